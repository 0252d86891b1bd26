#!/usr/bin/env bash
# bettensor-bench against a validator it did not start: --prepare a work directory, start
# bettensor-validator with the arguments it wrote on a free port, drive it with --url --quick
# (every mode, every confirmation verified), run again against the same validator (each run's
# prediction ids are its own, so nothing is refused as a duplicate), and check that the figures
# that need the server's pid are numbers with --server_pid and "n/a" (null in JSON) without.
#
# usage: url_check.sh <bettensor-bench> <bettensor-validator>
set -euo pipefail
bench=$1
validator=$2
work=$(mktemp -d)
vpid=
cleanup() {
  if [[ -n $vpid ]]; then kill -KILL "$vpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

"$bench" --prepare --workdir "$work/w" --miners 100 --heartbeat_interval 1 >"$work/prepare.txt"
grep -q "bettensor-validator --wallet.path=" "$work/prepare.txt" || fail "no command printed"
if "$bench" --prepare --workdir "$work/w" --miners 100 >/dev/null 2>&1; then
  fail "--prepare overwrote a prepared directory"
fi
mapfile -t args <"$work/w/validator.args"

exec {log}< <(exec "$validator" "${args[@]}" --websocket.address=127.0.0.1 --websocket.port=0 \
  --log.level=info 2>&1)
vpid=$!
port=
while IFS= read -r -t 30 -u "$log" line; do
  if [[ $line =~ listening\ on\ 127\.0\.0\.1:([0-9]+) ]]; then
    port=${BASH_REMATCH[1]}
    break
  fi
done
[[ -n $port ]] || fail "the validator did not report its port"
cat <&"$log" >"$work/validator.log" & # keep its log flowing

"$bench" --url "ws://127.0.0.1:$port" --workdir "$work/w" --quick --heartbeat_interval 1 \
  --server_pid "$vpid" | tee "$work/with-pid.txt" || fail "--url --quick failed"
grep -Eq "server CPU µs per prediction +[0-9]" "$work/with-pid.txt" ||
  fail "no server CPU figure with --server_pid"
grep -Eq "p99 ms: sent late by +[0-9.]+$" "$work/with-pid.txt" &&
  grep -Eq "p99 ms: round trip from the send +[0-9.]+$" "$work/with-pid.txt" ||
  fail "no split of the latency into the send delay and the round trip"
grep -Eq "^ +100 +[0-9.]+ +[0-9.]+ +[0-9.]+ +100 +0$" "$work/with-pid.txt" ||
  fail "no memory figure or lost heartbeats at 100 connections"

"$bench" --url "ws://localhost:$port/ws" --workdir "$work/w" --mode throughput --duration 1 \
  --connections 5 --verify_sample 1 --json "$work/again.json" | tee "$work/again.txt" ||
  fail "a second run against the same validator failed"
grep -Eq "server CPU µs per prediction +n/a" "$work/again.txt" || fail "no n/a without a pid"
grep -q '"server_cpu_us_per_prediction":null' "$work/again.json" || fail "JSON lacks null"

# Repeated ids would be confirmed again without being stored (idempotent), flattering the run.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
metrics=$(cat <&3)
exec 3<&-
grep -q "^bettensor_predictions_duplicate_total" <<<"$metrics" || fail "no duplicate counter"
if grep -Eq "^bettensor_predictions_duplicate_total(\{[^}]*\})? [1-9]" <<<"$metrics"; then
  fail "predictions were sent twice across runs"
fi

set +e
"$bench" --url "ws://127.0.0.1:$port" --workdir "$work/w" --mode connections --steps 200 \
  2>"$work/short.txt"
rc=$?
set -e
[[ $rc == 1 ]] || fail "asking for more miners than prepared exited $rc"
grep -q "holds 100 miners; this run needs 200" "$work/short.txt" || fail "unclear shortage error"

kill -TERM "$vpid"
wait "$vpid" || fail "the validator did not stop cleanly"
vpid=
echo "bench --url: every mode against a validator started by hand; figures n/a without its pid"
