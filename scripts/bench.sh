#!/usr/bin/env bash
# Builds the release binaries and runs every table of the README's Performance section:
# micro benchmarks, then bettensor-bench in each mode. Prints the tables; writes each run's JSON
# to the directory given (default: bench-results/). Takes about nine minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-results}
mkdir -p "$out"

bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBETTENSOR_BUILD_TESTS=OFF \
  >/dev/null
cmake --build build/release --target bettensor-bench bettensor-validator bettensor-microbench
bench=build/release/apps/bench/bettensor-bench

echo "== machine"
lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core)' || true
uname -r

echo "== micro benchmarks"
build/release/bench/bettensor-microbench --benchmark_min_time=1

for c in 10 50 200 1000; do
  "$bench" --mode=throughput --connections="$c" --duration=8 --json="$out/throughput-$c.json"
done
# What the disk alone allows the next run: bare SQLite commits at the same rate, no channel.
"$bench" --mode=commit --rate=2000 --duration=10 --json="$out/commit-2000.json"
"$bench" --mode=latency --rate=2000 --duration=10 --json="$out/latency-2000.json"
"$bench" --mode=latency --rate=2000 --duration=10 --db_dir=/dev/shm \
  --json="$out/latency-2000-tmpfs.json"
"$bench" --mode=latency --rate=2000 --duration=10 --idle=1000 --broadcast_every=1 \
  --json="$out/latency-2000-broadcasts.json"
"$bench" --mode=connections --json="$out/connections.json"
"$bench" --mode=broadcast --json="$out/broadcast.json"
"$bench" --mode=http --connections=50 --duration=8 --json="$out/http-50.json"
# TLS and compression: the same update and idle connections with permessage-deflate negotiated.
for flag in "" --compression; do
  name=${flag:-plain}
  "$bench" --mode=broadcast --steps=100,1000 $flag --json="$out/broadcast-${name#--}.json"
  "$bench" --mode=connections --steps=1000,5000 $flag --json="$out/connections-${name#--}.json"
done
# The storage backends side by side: the channel's SQLite, the Python validator's database and
# PostgreSQL (a throwaway cluster), the same throughput run on each.
"$bench" --backends=sqlite,bettensor,postgresql --connections=50 --duration=8
