#!/usr/bin/env bash
# What the Python validator's own schema costs an insert: 20,000 rows into `predictions` of a
# database made from the reference's DDL, with its AFTER INSERT trigger (which deletes rows
# older than 50 days, scanning the table each time) and without it. Python's sqlite3, a commit
# every 200 rows.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for variant in with without; do
  db="$work/$variant.db"
  python3 - "$db" "$variant" tests/data/bettensor_validator_tables.sql <<'PY'
import sqlite3, sys, time
db, variant, ddl = sys.argv[1], sys.argv[2], sys.argv[3]
d = sqlite3.connect(db)
d.executescript(open(ddl).read())
if variant == "without":
    d.execute("DROP TRIGGER delete_old_predictions")
t0 = time.perf_counter()
for i in range(20000):
    d.execute("INSERT INTO predictions (prediction_id, game_id, miner_uid, prediction_date, wager) "
              "VALUES (?, 1, 1, '2026-12-02T00:00:00+00:00', 1)", (str(i),))
    if i % 200 == 0:
        d.commit()
d.commit()
print(f"20000 inserts {variant} the trigger: {time.perf_counter() - t0:.2f} s")
PY
done
