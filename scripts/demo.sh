#!/usr/bin/env bash
# Installs what is missing, builds, and runs the demo: a validator and three miners on loopback
# with generated hotkeys, metagraph and games (SQLite files in a temporary directory). Extra
# arguments go to bettensor-demo (e.g. --duration=60, --mode=validator; see --help).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DBETTENSOR_BUILD_TESTS=OFF -DBETTENSOR_BUILD_BENCH=OFF >/dev/null
cmake --build build/release --target bettensor-demo bettensor-validator bettensor-miner \
  bettensor-keygen

exec build/release/apps/demo/bettensor-demo "$@"
