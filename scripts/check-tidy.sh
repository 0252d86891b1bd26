#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) over the project's sources, using the compile commands of the
# given build directory (default build/test). Any finding fails.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/test}
git ls-files 'modules/*/src/*.cpp' 'apps/*/*.cpp' |
  xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet 2>/dev/null
echo "clang-tidy: no findings"
