"""Plays the Python Bettensor validator's side of its own SQLite database while the channel
writes to it: what the neuron's sports-data and scoring loops do, with Python's sqlite3 and
its default settings (5 s busy timeout, implicit transactions).

Usage: python3 neuron_scoring.py DATABASE STOP_FILE

1. Upserts game 9001 into game_data (the query of bettensor/validator/io/sports_data.py) and
   prints "game inserted".
2. Until STOP_FILE exists: reads the unsettled predictions (as scoring does), settles them
   (outcome, payout), updates its miner_stats row and touches a finished game.
3. Prints one JSON line: the prediction ids it read, and how many operations failed with
   "database is locked" (or any other error).
"""

import json
import os
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone

UPSERT = """
INSERT INTO game_data (
    game_id, team_a, team_b, sport, league, external_id, create_date,
    last_update_date, event_start_date, active, outcome, team_a_odds,
    team_b_odds, tie_odds, can_tie
)
VALUES (
    :game_id, :team_a, :team_b, :sport, :league, :external_id, :create_date,
    :last_update_date, :event_start_date, :active, :outcome, :team_a_odds,
    :team_b_odds, :tie_odds, :can_tie
)
ON CONFLICT(external_id) DO UPDATE SET
    team_a_odds = excluded.team_a_odds,
    team_b_odds = excluded.team_b_odds,
    tie_odds = excluded.tie_odds,
    event_start_date = excluded.event_start_date,
    active = excluded.active,
    outcome = excluded.outcome,
    last_update_date = excluded.last_update_date
"""


def game(external_id, outcome, start):
    now = datetime.now(timezone.utc).isoformat()
    return {
        "game_id": f"uuid-{external_id}", "team_a": "Arsenal", "team_b": "Chelsea",
        "sport": "soccer", "league": "EPL", "external_id": external_id, "create_date": now,
        "last_update_date": now, "event_start_date": start.isoformat(), "active": 1,
        "outcome": outcome, "team_a_odds": 2.1, "team_b_odds": 3.4, "tie_odds": 3.25,
        "can_tie": True,
    }


def main():
    database, stop_file = sys.argv[1], sys.argv[2]
    db = sqlite3.connect(database)
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    db.execute(UPSERT, game(9001, 3, tomorrow))
    db.execute(UPSERT, game(9002, 0, tomorrow - timedelta(days=3)))
    db.commit()
    print("game inserted", flush=True)

    seen, locked, other, rounds = set(), 0, [], 0
    while not os.path.exists(stop_file) or rounds < 5:
        rounds += 1
        try:
            rows = db.execute(
                "SELECT prediction_id, miner_uid, wager, predicted_outcome FROM predictions "
                "WHERE outcome = 3").fetchall()
            for prediction_id, _uid, _wager, _outcome in rows:
                seen.add(prediction_id)
            db.executemany("UPDATE predictions SET outcome = 3, payout = 0 WHERE prediction_id = ?",
                           [(r[0],) for r in rows[:20]])
            db.execute("UPDATE miner_stats SET miner_lifetime_predictions = "
                       "miner_lifetime_predictions + 1 WHERE miner_uid = 1")
            db.execute("UPDATE game_data SET last_update_date = ? WHERE external_id = 9002",
                       (datetime.now(timezone.utc).isoformat(),))
            db.commit()
        except sqlite3.OperationalError as e:
            db.rollback()
            if "locked" in str(e):
                locked += 1
            else:
                other.append(str(e))
        # The neuron's loops run on timers, not flat out: a round every few milliseconds is
        # already far busier than its scoring.
        time.sleep(0.005)
    for (prediction_id,) in db.execute("SELECT prediction_id FROM predictions"):
        seen.add(prediction_id)
    print(json.dumps({"ids": sorted(seen), "locked": locked, "errors": other, "rounds": rounds}),
          flush=True)


if __name__ == "__main__":
    main()
