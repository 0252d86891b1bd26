#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test: the style check, the unit, vector and
# interop tests, the same tests again under AddressSanitizer + UndefinedBehaviorSanitizer, and
# each libFuzzer target for FUZZ_SECONDS (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash scripts/install-deps.sh --test
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)

echo "== style (clang-format)"
bash scripts/check-format.sh

echo "== build and test"
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/test -j "$jobs"
ctest --test-dir build/test --output-on-failure -j "$jobs"

echo "== static analysis (clang-tidy)"
bash scripts/check-tidy.sh build/test

echo "== build and test under ASan + UBSan"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBETTENSOR_SANITIZE=ON \
  -DBETTENSOR_BUILD_BENCH=OFF >/dev/null
cmake --build build/asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j "$jobs"

echo "== fuzz"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
