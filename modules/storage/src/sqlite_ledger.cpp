#include "bettensor/storage/sqlite_ledger.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"
#include "database.hpp"
#include "neuron_tables.hpp"

namespace bettensor::storage {

namespace {

constexpr int schema_version = 1;

// The channel's tables: in its own file under plain names, in the neuron's file under names of
// our own beside the reference's tables (which are never altered).
struct table_names {
  std::string_view verdicts;
  std::string_view daily;
  std::string_view games;
};
constexpr table_names own_tables{"predictions", "daily_wagers", "games"};
// The neuron's games are its game_data: no table of ours holds them.
constexpr table_names bettensor_tables{"channel_verdicts", "channel_daily_wagers", ""};

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const auto p : parts) out.append(p);
  return out;
}

std::string schema_of(const table_names& t) {
  std::string out = cat({"CREATE TABLE IF NOT EXISTS ", t.verdicts, R"sql( (
  prediction_id TEXT PRIMARY KEY,
  miner_hotkey  TEXT NOT NULL,
  miner_uid     TEXT NOT NULL,
  game_id       TEXT NOT NULL,
  wager         REAL NOT NULL,
  accepted      INTEGER NOT NULL,
  message       TEXT NOT NULL,
  utc_day       TEXT NOT NULL,
  received_at   TEXT NOT NULL,
  data          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS )sql",
                         t.daily, R"sql( (
  miner_hotkey TEXT NOT NULL,
  utc_day      TEXT NOT NULL,
  total        REAL NOT NULL,
  PRIMARY KEY (miner_hotkey, utc_day)
);
)sql"});
  if (!t.games.empty()) {
    out += cat({"CREATE TABLE IF NOT EXISTS ", t.games,
                " (\n  game_id TEXT PRIMARY KEY,\n  data    TEXT NOT NULL\n);\n"});
  }
  return out;
}

bool is_busy(const SQLite::Exception& e) {
  const int code = e.getErrorCode();
  return code == SQLITE_BUSY || code == SQLITE_LOCKED;
}

// Makes a kept statement ready for its next run. sqlite3_reset returns the error of the
// statement's last failed step, which was thrown when it happened; reset() would throw it again
// and fail the next batch with the previous one's error.
void ready(SQLite::Statement& q) noexcept {
  (void)q.tryReset();
}

}  // namespace

std::string utc_day(protocol::timestamp t) {
  const std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(t)};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

struct sqlite_ledger::impl {
  impl(const std::filesystem::path& file, layout l)
      : path(file),
        kind(l),
        names(l == layout::own ? own_tables : bettensor_tables),
        db(detail::open_database(
            file, schema_of(names), schema_version,
            l == layout::own ? detail::ownership::ours : detail::ownership::theirs)),
        find_verdict(db, cat({"SELECT accepted, message FROM ", names.verdicts,
                              " WHERE prediction_id = ?"})),
        find_total(db, cat({"SELECT total FROM ", names.daily,
                            " WHERE miner_hotkey = ? AND utc_day = ?"})),
        insert_prediction(db, cat({"INSERT INTO ", names.verdicts,
                                   " (prediction_id, miner_hotkey, miner_uid, game_id, wager, "
                                   "accepted, message, utc_day, received_at, data) "
                                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"})),
        add_wager(db, cat({"INSERT INTO ", names.daily,
                           " (miner_hotkey, utc_day, total) VALUES (?, ?, ?) "
                           "ON CONFLICT (miner_hotkey, utc_day) DO UPDATE SET total = total + "
                           "excluded.total"})) {
    if (kind == layout::bettensor) check_reference_tables();
  }

  // The neuron's file must hold the reference's tables; we read and write them but never
  // create or alter them.
  void check_reference_tables() {
    const auto has = [&](const char* table) {
      SQLite::Statement q(db,
                          "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
      q.bind(1, table);
      q.executeStep();
      return q.getColumn(0).getInt() != 0;
    };
    for (const char* t : {"predictions", "game_data"}) {
      if (!has(t)) {
        throw storage_error("database " + path.string() +
                            ": is not a Bettensor validator database (no " + t + " table)");
      }
    }
    has_miner_stats = has("miner_stats");
    theirs_insert.emplace(db,
                          "INSERT OR IGNORE INTO predictions (prediction_id, game_id, miner_uid, "
                          "prediction_date, predicted_outcome, predicted_odds, team_a, team_b, "
                          "wager, team_a_odds, team_b_odds, tie_odds, outcome, model_name, "
                          "confidence_score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 3, ?, ?)");
    theirs_find.emplace(db, "SELECT 1 FROM predictions WHERE prediction_id = ?");
  }

  // A batch's lookups and writes run in one transaction that takes the write lock at once
  // (BEGIN IMMEDIATE): waiting for another writer happens in the busy handler, never as a
  // failed upgrade of a read snapshot another process has moved past. BEGIN IMMEDIATE, COMMIT
  // and ROLLBACK are statements prepared once: SQLite::Transaction would parse them again, and
  // allocate for that, in every batch.
  void begin() {
    if (in_batch) return;
    // Still open after a batch: its ROLLBACK failed. Nothing of that batch may be committed
    // with this one, so it is undone first or this batch fails too.
    if (sqlite3_get_autocommit(db.getHandle()) == 0) {
      ready(rollback_tx);
      rollback_tx.exec();
    }
    ready(begin_tx);
    begin_tx.exec();
    in_batch = true;
  }
  void commit() {
    ready(commit_tx);
    commit_tx.exec();
    in_batch = false;
  }
  void rollback() noexcept {
    in_batch = false;
    if (sqlite3_get_autocommit(db.getHandle()) != 0) return;  // none open, or SQLite ended it
    ready(rollback_tx);
    (void)rollback_tx.tryExecuteStep();  // should it fail, the next begin() tries again
  }

  // Runs a step; SQLite's `database is locked` (busy timeout spent) becomes storage_unavailable,
  // so the batch waits and is tried again instead of being refused.
  template <class F>
  auto guarded(F f) -> decltype(f()) {
    try {
      return f();
    } catch (const SQLite::Exception& e) {
      if (is_busy(e)) throw storage_unavailable("database " + path.string() + ": " + e.what());
      throw;
    }
  }

  void write_theirs(const ledger_entry& e) {
    auto& q = *theirs_insert;
    ready(q);
    detail::bind_prediction_row(q, e);
    q.exec();
  }

  static std::string text_of_games(const std::vector<protocol::team_game>& games) {
    std::string out;
    for (const auto& g : games) out += protocol::to_canonical(protocol::to_json(g));
    return out;
  }

  std::filesystem::path path;
  layout kind;
  table_names names;
  SQLite::Database db;
  SQLite::Statement find_verdict;
  SQLite::Statement find_total;
  SQLite::Statement insert_prediction;
  SQLite::Statement add_wager;
  std::optional<SQLite::Statement> theirs_insert;  // layout::bettensor
  std::optional<SQLite::Statement> theirs_find;
  bool has_miner_stats = false;
  SQLite::Statement begin_tx{db, "BEGIN IMMEDIATE"};
  SQLite::Statement commit_tx{db, "COMMIT"};
  SQLite::Statement rollback_tx{db, "ROLLBACK"};
  bool in_batch = false;      // begin() opened a transaction that is not yet committed or undone
  std::string stored_text;    // record()'s buffers for each prediction's stored copy
  std::string received_text;  // and the time it was received
  // game_data as last read: the file's data_version then, and the set's canonical text.
  std::optional<std::int64_t> data_version;
  std::string games_text;
  std::size_t skipped_games = 0;
};

sqlite_ledger::sqlite_ledger(const std::filesystem::path& path, layout l)
    : impl_(std::make_unique<impl>(path, l)) {}

sqlite_ledger::~sqlite_ledger() = default;

void sqlite_ledger::begin_batch(std::span<const std::string_view> /*hotkeys*/) {
  impl_->guarded([&] { impl_->begin(); });
}

std::optional<verdict> sqlite_ledger::find_verdict(const std::string& prediction_id) {
  return impl_->guarded([&]() -> std::optional<verdict> {
    impl_->begin();
    auto& q = impl_->find_verdict;
    ready(q);
    q.bindNoCopy(1, prediction_id);  // cleared below: no pointer to the caller's text is kept
    // Each statement is reset once read: one left on a row would hold a read snapshot open
    // after the commit, and with another process writing the file the next BEGIN IMMEDIATE
    // would then fail at once (SQLITE_BUSY_SNAPSHOT) instead of waiting its turn.
    if (q.executeStep()) {
      // The original verdict, as stored: its text is sent again as it was written.
      const bool accepted = q.getColumn(0).getInt() != 0;
      std::string text = q.getColumn(1).getString();
      q.reset();
      q.clearBindings();
      if (accepted) return verdict{{}, {}, true};
      const auto reason = protocol::rejection_of_text(text);
      return verdict{reason, std::move(text), true};
    }
    q.reset();
    q.clearBindings();
    // A prediction the neuron already holds (it came another way): stored, so accepted.
    if (impl_->theirs_find) {
      auto& t = *impl_->theirs_find;
      ready(t);
      t.bind(1, prediction_id);
      const bool held = t.executeStep();
      t.reset();
      if (held) return verdict{{}, {}, true};
    }
    return std::nullopt;
  });
}

double sqlite_ledger::daily_total(const std::string& hotkey, const std::string& day) {
  return impl_->guarded([&] {
    impl_->begin();
    auto& q = impl_->find_total;
    ready(q);
    q.bindNoCopy(1, hotkey);
    q.bindNoCopy(2, day);
    const double total = q.executeStep() ? q.getColumn(0).getDouble() : 0.0;
    q.reset();
    q.clearBindings();  // no pointer to the caller's texts is kept
    return total;
  });
}

void sqlite_ledger::record(const std::vector<ledger_entry>& batch) {
  impl_->guarded([&] {
    impl_->begin();
    auto& insert = impl_->insert_prediction;
    auto& add = impl_->add_wager;
    // The texts are bound without a copy: each outlives the statement's exec().
    for (const auto& e : batch) {
      const auto& p = e.prediction;
      // The texts made here in buffers kept between predictions: rebound before each exec().
      auto& received = impl_->received_text;
      received.clear();
      protocol::append_timestamp(received, e.received);
      auto& data = impl_->stored_text;
      data.clear();
      protocol::append_canonical(data, p);
      ready(insert);
      insert.bindNoCopy(1, p.prediction_id);
      insert.bindNoCopy(2, e.hotkey);
      insert.bindNoCopy(3, p.miner_uid);
      insert.bindNoCopy(4, p.game_id);
      insert.bind(5, p.wager);
      insert.bind(6, e.decision.accepted() ? 1 : 0);
      insert.bindNoCopy(7, e.decision.message);
      insert.bindNoCopy(8, e.utc_day);
      insert.bindNoCopy(9, received);
      insert.bindNoCopy(10, data);
      insert.exec();
      if (e.decision.accepted()) {
        ready(add);
        add.bindNoCopy(1, e.hotkey);
        add.bindNoCopy(2, e.utc_day);
        add.bind(3, p.wager);
        add.exec();
        if (impl_->theirs_insert) impl_->write_theirs(e);
      }
    }
    insert.clearBindings();  // no pointer to this batch's texts is kept
    add.clearBindings();
    impl_->commit();
  });
}

void sqlite_ledger::discard() noexcept {
  impl_->rollback();
}

std::optional<boost::json::object> sqlite_ledger::miner_stats(std::int64_t uid) {
  if (!impl_->has_miner_stats) return std::nullopt;
  return impl_->guarded([&] {
    impl_->begin();
    return std::optional<boost::json::object>(detail::read_miner_stats(impl_->db, uid));
  });
}

void sqlite_ledger::replace_games(const std::vector<protocol::team_game>& games) {
  // In the neuron's file the games are its game_data, read at start and on change: a set given
  // another way (the games file, POST /games) is served until game_data changes, not stored.
  if (impl_->kind == layout::bettensor) return;
  impl_->guarded([&] {
    SQLite::Transaction tx(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    impl_->db.exec(cat({"DELETE FROM ", impl_->names.games}));
    SQLite::Statement insert(
        impl_->db, cat({"INSERT INTO ", impl_->names.games, " (game_id, data) VALUES (?, ?)"}));
    for (const auto& g : games) {
      insert.reset();
      insert.bind(1, g.game_id);
      insert.bind(2, protocol::to_canonical(protocol::to_json(g)));
      insert.exec();
    }
    tx.commit();
  });
}

std::vector<protocol::team_game> sqlite_ledger::load_games() {
  return impl_->guarded([&] {
    if (impl_->kind == layout::bettensor) {
      impl_->data_version = impl_->db.execAndGet("PRAGMA data_version").getInt64();
      auto games = detail::read_game_data(impl_->db, impl_->skipped_games);
      impl_->games_text = impl::text_of_games(games);
      return games;
    }
    std::vector<protocol::team_game> out;
    SQLite::Statement q(impl_->db,
                        cat({"SELECT data FROM ", impl_->names.games, " ORDER BY game_id"}));
    while (q.executeStep()) {
      auto v = protocol::parse_json(q.getColumn(0).getString());
      if (!v) continue;
      auto g = protocol::parse_team_game(*v);
      if (g) out.push_back(std::move(*g));
    }
    return out;
  });
}

std::optional<std::vector<protocol::team_game>> sqlite_ledger::games_changed() {
  if (impl_->kind != layout::bettensor) return std::nullopt;
  return impl_->guarded([&]() -> std::optional<std::vector<protocol::team_game>> {
    // data_version moves whenever another connection commits: only then is game_data re-read,
    // and only a set that differs is reported.
    const auto version = impl_->db.execAndGet("PRAGMA data_version").getInt64();
    if (impl_->data_version && *impl_->data_version == version) return std::nullopt;
    impl_->data_version = version;
    auto games = detail::read_game_data(impl_->db, impl_->skipped_games);
    auto text = impl::text_of_games(games);
    if (text == impl_->games_text) return std::nullopt;
    impl_->games_text = std::move(text);
    return games;
  });
}

std::size_t sqlite_ledger::accepted_count() {
  return impl_->guarded([&] {
    return static_cast<std::size_t>(
        impl_->db
            .execAndGet(
                cat({"SELECT COUNT(*) FROM ", impl_->names.verdicts, " WHERE accepted = 1"}))
            .getInt64());
  });
}

std::size_t sqlite_ledger::prediction_rows(const std::string& prediction_id) {
  return impl_->guarded([&] {
    SQLite::Statement q(impl_->db, cat({"SELECT COUNT(*) FROM ", impl_->names.verdicts,
                                        " WHERE prediction_id = ?"}));
    q.bind(1, prediction_id);
    q.executeStep();
    return static_cast<std::size_t>(q.getColumn(0).getInt64());
  });
}

}  // namespace bettensor::storage
