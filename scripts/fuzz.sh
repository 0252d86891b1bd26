#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds (default 60) from the seed
# corpus in fuzz/corpus/<target>. New inputs go to a temporary directory; a crash leaves its
# input in fuzz/artifacts/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1" -DBETTENSOR_WERROR=ON \
  -DBETTENSOR_BUILD_FUZZ=ON -DBETTENSOR_BUILD_TESTS=OFF -DBETTENSOR_BUILD_BENCH=OFF >/dev/null
cmake --build build/fuzz -j "$(nproc)" --target envelope_fuzz ss58_fuzz handshake_fuzz validator_fuzz

mkdir -p fuzz/artifacts
for target in envelope_fuzz ss58_fuzz handshake_fuzz validator_fuzz; do
  corpus=fuzz/corpus/${target%_fuzz}
  scratch=$(mktemp -d)
  echo "== $target for ${seconds}s (seeds: $corpus)"
  build/fuzz/fuzz/$target -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix=fuzz/artifacts/ "$scratch" "$corpus" 2>&1 | tail -n 12
  rm -rf "$scratch"
done
