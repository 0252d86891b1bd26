#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds (default 60) from the seed
# corpus in fuzz/corpus/<target>, all of them at once. New inputs go to a temporary directory; a
# crash leaves its input in fuzz/artifacts/ and fails the script. `fuzz.sh --build-only` only builds them.
# They are built in build/fuzz (-O1, ASan and every UBSan check), or in the tree FUZZ_BUILD_DIR
# names, configured with -DBETTENSOR_BUILD_FUZZ=ON (CI uses its ASan + UBSan test tree).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${FUZZ_BUILD_DIR:-build/fuzz}

if [[ -z ${FUZZ_BUILD_DIR:-} ]]; then
  CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DBETTENSOR_WERROR=ON \
    -DBETTENSOR_BUILD_FUZZ=ON -DBETTENSOR_BUILD_TESTS=OFF -DBETTENSOR_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target envelope_fuzz ss58_fuzz handshake_fuzz validator_fuzz \
  session_policy_fuzz
[[ ${1:-} == --build-only ]] && exit 0

mkdir -p fuzz/artifacts
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# One target for $seconds into its own log; the exit code is the fuzzer's.
fuzz_one() {
  local target=$1 corpus=fuzz/corpus/${1%_fuzz} scratch
  scratch=$(mktemp -d "$logs/$target.XXXX")
  "$build/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix=fuzz/artifacts/ "$scratch" "$corpus" >"$logs/$target.log" 2>&1
}

targets=(envelope_fuzz ss58_fuzz handshake_fuzz validator_fuzz session_policy_fuzz)
# All the targets at once: one round of $seconds (on fewer cores each gets a share of them).
at_once=${#targets[@]}
failed=0
for ((i = 0; i < ${#targets[@]}; i += at_once)); do
  batch=("${targets[@]:i:at_once}")
  pids=()
  for target in "${batch[@]}"; do
    fuzz_one "$target" &
    pids+=($!)
  done
  for j in "${!batch[@]}"; do
    rc=0
    wait "${pids[$j]}" || rc=$?
    echo "== ${batch[$j]} for ${seconds}s (seeds: fuzz/corpus/${batch[$j]%_fuzz}), exit $rc"
    if ((rc == 0)); then
      grep -E '^(Done|stat::)' "$logs/${batch[$j]}.log" || true
    else
      tail -n 60 "$logs/${batch[$j]}.log"  # the crash report and the input's path
      failed=1
    fi
  done
done
exit "$failed"
