#!/usr/bin/env bash
# Installs what is missing, builds, and runs the demo: creates a throwaway Bittensor hotkey in a
# temporary wallet directory and prints its SS58 address.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DBETTENSOR_BUILD_TESTS=OFF -DBETTENSOR_BUILD_BENCH=OFF >/dev/null
cmake --build build/release --target bettensor-keygen

wallets=$(mktemp -d)
trap 'rm -rf "$wallets"' EXIT
echo "== creating a demo hotkey under $wallets"
address=$(build/release/apps/keygen/bettensor-keygen --wallet.path "$wallets" --wallet.name demo --wallet.hotkey miner1)
echo "SS58 address: $address"
echo "== loading it back and checking the stored public key"
build/release/apps/keygen/bettensor-keygen --wallet.path "$wallets" --wallet.name demo --wallet.hotkey miner1 --show
