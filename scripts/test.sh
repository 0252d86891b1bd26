#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test: the style check, the unit, vector,
# integration, interop, fault and attack tests and a short demo run (the validator and miner
# integration tests 5 times in a row, to catch flakes), clang-tidy, the tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer (without the end-to-end runs), the
# multi-threaded tests under ThreadSanitizer, and each libFuzzer target for FUZZ_SECONDS
# (default 30). Warnings are errors in every build here (BETTENSOR_WERROR).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash scripts/install-deps.sh --test
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)

echo "== style (clang-format)"
bash scripts/check-format.sh

# The conventional release build, with the tests.
echo "== build (Release) and test"
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=Release -DBETTENSOR_WERROR=ON >/dev/null
cmake --build build/test -j "$jobs"
ctest --test-dir build/test --output-on-failure -j "$jobs"

echo "== validator and miner integration tests, 5 runs in a row"
ctest --test-dir build/test --output-on-failure -R '^(ValidatorTest|LinkTest|MinerTest)\.' \
  --repeat until-fail:5

echo "== static analysis (clang-tidy)"
bash scripts/check-tidy.sh build/test

echo "== build and test under ASan + UBSan"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBETTENSOR_SANITIZE=ON \
  -DBETTENSOR_WERROR=ON -DBETTENSOR_BUILD_BENCH=OFF >/dev/null
cmake --build build/asan -j "$jobs"
# The end-to-end runs (bench, nginx, faults) drive the same binaries for minutes and add
# little under the sanitizers; everything else runs.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j "$jobs" -LE end-to-end

echo "== multi-threaded tests under ThreadSanitizer"
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBETTENSOR_TSAN=ON \
  -DBETTENSOR_WERROR=ON -DBETTENSOR_BUILD_BENCH=OFF >/dev/null
cmake --build build/tsan -j "$jobs" --target bettensor_validator_test bettensor_storage_test \
  bettensor_miner_integration_test
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 build/tsan/tests/integration/bettensor_validator_test
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  build/tsan/tests/integration/bettensor_miner_integration_test
TSAN_OPTIONS=halt_on_error=1 build/tsan/modules/storage/tests/bettensor_storage_test

echo "== fuzz"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
