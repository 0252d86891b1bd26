#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test: the style check, the unit, vector,
# integration, interop, fault and attack tests and a short demo run (the validator and miner
# integration tests 5 times in a row, to catch flakes), clang-tidy (in the background, at the
# lowest priority), the tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer (without the end-to-end runs), the
# multi-threaded tests under ThreadSanitizer, and each libFuzzer target for FUZZ_SECONDS
# (default 30). Warnings are errors in every build here (BETTENSOR_WERROR). Each step prints
# how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
started=$SECONDS
step_started=$SECONDS
step() {
  echo "   (took $((SECONDS - step_started)) s)"
  step_started=$SECONDS
  echo "== $*"
}

echo "== install"
bash scripts/install-deps.sh --test
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)

step "style (clang-format)"
bash scripts/check-format.sh

# The conventional release build, with the tests.
step "build (Release)"
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=Release -DBETTENSOR_WERROR=ON >/dev/null
cmake --build build/test -j "$jobs"

# clang-tidy reads only the compile commands: it runs from here to the end at the lowest CPU
# priority, on the cycles the tests leave idle, and its verdict is read last. It
# stays in this session (a new one would be a scheduler autogroup of its own, with an equal
# share of the CPU whatever its nice value) but gets a process group of its own (set -m), so
# that it can be ended with this script whatever way the script ends.
mkdir -p build/logs
set -m
nice -n 19 bash scripts/check-tidy.sh build/test >build/logs/clang-tidy.log 2>&1 &
tidy_pid=$!
set +m
trap 'kill -- "-$tidy_pid" 2>/dev/null || true' EXIT

step "test"
ctest --test-dir build/test --output-on-failure -j "$jobs"

step "validator and miner integration tests, 5 runs in a row"
ctest --test-dir build/test --output-on-failure -R '^(ValidatorTest|LinkTest|MinerTest)\.' \
  --repeat until-fail:5

# Sanitizer builds keep line tables only (-g1): symbolized stack traces at a fraction of the
# compile time of full debug information.
step "build under ASan + UBSan (Debug)"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" \
  -DBETTENSOR_SANITIZE=ON -DBETTENSOR_WERROR=ON -DBETTENSOR_BUILD_BENCH=OFF \
  -DBETTENSOR_BUILD_LOADGEN=OFF >/dev/null
cmake --build build/asan -j "$jobs"

# The end-to-end runs (bench, nginx, faults) drive the same binaries for minutes and add
# little under the sanitizers (so the load generator they drive is not built above); everything
# else runs.
step "test under ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j "$jobs" -LE end-to-end

step "build under ThreadSanitizer"
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DBETTENSOR_TSAN=ON -DBETTENSOR_WERROR=ON \
  -DBETTENSOR_BUILD_BENCH=OFF >/dev/null
cmake --build build/tsan -j "$jobs" --target bettensor_validator_test bettensor_storage_test \
  bettensor_miner_integration_test bettensor_storage_backends_test

step "multi-threaded tests under ThreadSanitizer"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 build/tsan/tests/integration/bettensor_validator_test
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  build/tsan/tests/integration/bettensor_miner_integration_test
TSAN_OPTIONS=halt_on_error=1 build/tsan/modules/storage/tests/bettensor_storage_test
# The PostgreSQL listener's thread, the pipeline's waits and retries, two stores on one database.
TSAN_OPTIONS=halt_on_error=1 build/tsan/modules/storage/tests/bettensor_storage_backends_test

step "fuzz"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"

step "static analysis (clang-tidy, started after the first build)"
if ! wait "$tidy_pid"; then
  cat build/logs/clang-tidy.log
  exit 1
fi
cat build/logs/clang-tidy.log
step "done in $((SECONDS - started)) s"
