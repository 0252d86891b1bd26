-- The Bettensor validator's tables the channel reads and writes, as the reference creates
-- them (Nickel5-Inc/bettensor, branch dtao-3.0, bettensor/validator/database/database_init.py):
-- predictions, game_data, miner_stats, keys, db_version and the triggers on the first two.
-- The tests build a neuron's database from this file, never from our own schema.

CREATE TABLE IF NOT EXISTS db_version (
    version INTEGER PRIMARY KEY,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS miner_stats (
    miner_uid INTEGER PRIMARY KEY,
    miner_hotkey TEXT UNIQUE,
    miner_coldkey TEXT,
    miner_rank INTEGER DEFAULT 0,
    miner_status TEXT DEFAULT 'active',
    miner_cash REAL DEFAULT 0.0,
    miner_current_incentive REAL DEFAULT 0.0,
    miner_current_tier INTEGER DEFAULT 1,
    miner_current_scoring_window INTEGER DEFAULT 0,
    miner_current_composite_score REAL DEFAULT 0.0,
    miner_current_entropy_score REAL DEFAULT 0.0,
    miner_current_sharpe_ratio REAL DEFAULT 0.0,
    miner_current_sortino_ratio REAL DEFAULT 0.0,
    miner_current_roi REAL DEFAULT 0.0,
    miner_current_clv_avg REAL DEFAULT 0.0,
    miner_last_prediction_date TEXT,
    miner_lifetime_earnings REAL DEFAULT 0.0,
    miner_lifetime_wager_amount REAL DEFAULT 0.0,
    miner_lifetime_roi REAL DEFAULT 0.0,
    miner_lifetime_predictions INTEGER DEFAULT 0,
    miner_lifetime_wins INTEGER DEFAULT 0,
    miner_lifetime_losses INTEGER DEFAULT 0,
    miner_win_loss_ratio REAL DEFAULT 0.0,
    most_recent_weight REAL DEFAULT 0.0
);

CREATE TABLE IF NOT EXISTS predictions (
    prediction_id TEXT PRIMARY KEY,
    game_id INTEGER,
    miner_uid INTEGER,
    prediction_date TEXT,
    predicted_outcome INTEGER,
    predicted_odds REAL,
    team_a TEXT,
    team_b TEXT,
    wager REAL,
    team_a_odds REAL,
    team_b_odds REAL,
    tie_odds REAL,
    model_name TEXT,
    confidence_score REAL,
    outcome INTEGER,
    payout REAL,
    sent_to_site INTEGER DEFAULT 0,
    validators_sent_to INTEGER DEFAULT 0,
    validators_confirmed INTEGER DEFAULT 0
);

CREATE TABLE IF NOT EXISTS game_data (
    game_id TEXT PRIMARY KEY UNIQUE,
    external_id INTEGER UNIQUE,
    team_a TEXT,
    team_b TEXT,
    team_a_odds REAL,
    team_b_odds REAL,
    tie_odds REAL,
    can_tie BOOLEAN,
    event_start_date TEXT,
    create_date TEXT,
    last_update_date TEXT,
    sport TEXT,
    league TEXT,
    outcome INTEGER DEFAULT 3,
    active INTEGER
);

CREATE TABLE IF NOT EXISTS keys (
    hotkey TEXT PRIMARY KEY,
    coldkey TEXT
);

CREATE TRIGGER IF NOT EXISTS delete_old_predictions
AFTER INSERT ON predictions
BEGIN
    DELETE FROM predictions
    WHERE prediction_date < date('now', '-50 days');
END;

CREATE TRIGGER IF NOT EXISTS delete_old_game_data
AFTER INSERT ON game_data
BEGIN
    DELETE FROM game_data
    WHERE event_start_date < date('now', '-50 days');
END;
