#include "bettensor/storage/sqlite_ledger.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"
#include "database.hpp"

namespace bettensor::storage {

namespace {

constexpr int schema_version = 1;

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS predictions (
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
CREATE TABLE IF NOT EXISTS daily_wagers (
  miner_hotkey TEXT NOT NULL,
  utc_day      TEXT NOT NULL,
  total        REAL NOT NULL,
  PRIMARY KEY (miner_hotkey, utc_day)
);
CREATE TABLE IF NOT EXISTS games (
  game_id TEXT PRIMARY KEY,
  data    TEXT NOT NULL
);
)sql";

}  // namespace

std::string utc_day(protocol::timestamp t) {
  const std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(t)};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

struct sqlite_ledger::impl {
  explicit impl(const std::filesystem::path& path)
      : db(detail::open_database(path, schema, schema_version)),
        find_verdict(db, "SELECT accepted, message FROM predictions WHERE prediction_id = ?"),
        find_total(db, "SELECT total FROM daily_wagers WHERE miner_hotkey = ? AND utc_day = ?"),
        insert_prediction(db,
                          "INSERT INTO predictions (prediction_id, miner_hotkey, miner_uid, "
                          "game_id, wager, accepted, message, utc_day, received_at, data) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        add_wager(db,
                  "INSERT INTO daily_wagers (miner_hotkey, utc_day, total) VALUES (?, ?, ?) "
                  "ON CONFLICT (miner_hotkey, utc_day) DO UPDATE SET total = total + "
                  "excluded.total") {}

  // A batch's lookups and writes run in one transaction, opened by its first statement: one
  // lock and one WAL snapshot per batch instead of one per statement.
  void begin() {
    if (!tx) tx.emplace(db);
  }

  SQLite::Database db;
  SQLite::Statement find_verdict;
  SQLite::Statement find_total;
  SQLite::Statement insert_prediction;
  SQLite::Statement add_wager;
  std::optional<SQLite::Transaction> tx;
};

sqlite_ledger::sqlite_ledger(const std::filesystem::path& path)
    : impl_(std::make_unique<impl>(path)) {}

sqlite_ledger::~sqlite_ledger() = default;

std::optional<verdict> sqlite_ledger::find_verdict(const std::string& prediction_id) {
  impl_->begin();
  auto& q = impl_->find_verdict;
  q.reset();
  q.bind(1, prediction_id);
  if (!q.executeStep()) return std::nullopt;
  // The original verdict, as stored: its text is sent again as it was written.
  if (q.getColumn(0).getInt() != 0) return verdict{{}, {}, true};
  std::string text = q.getColumn(1).getString();
  const auto reason = protocol::rejection_of_text(text);
  return verdict{reason, std::move(text), true};
}

double sqlite_ledger::daily_total(const std::string& hotkey, const std::string& day) {
  impl_->begin();
  auto& q = impl_->find_total;
  q.reset();
  q.bind(1, hotkey);
  q.bind(2, day);
  return q.executeStep() ? q.getColumn(0).getDouble() : 0.0;
}

void sqlite_ledger::record(const std::vector<ledger_entry>& batch) {
  impl_->begin();
  auto& insert = impl_->insert_prediction;
  auto& add = impl_->add_wager;
  for (const auto& e : batch) {
    const auto& p = e.prediction;
    insert.reset();
    insert.bind(1, p.prediction_id);
    insert.bind(2, e.hotkey);
    insert.bind(3, p.miner_uid);
    insert.bind(4, p.game_id);
    insert.bind(5, p.wager);
    insert.bind(6, e.decision.accepted() ? 1 : 0);
    insert.bind(7, e.decision.message);
    insert.bind(8, e.utc_day);
    insert.bind(9, protocol::format_timestamp(e.received));
    insert.bind(10, protocol::to_canonical(protocol::to_json(p)));
    insert.exec();
    if (e.decision.accepted()) {
      add.reset();
      add.bind(1, e.hotkey);
      add.bind(2, e.utc_day);
      add.bind(3, p.wager);
      add.exec();
    }
  }
  impl_->tx->commit();
  impl_->tx.reset();
}

void sqlite_ledger::discard() noexcept {
  impl_->tx.reset();  // rolls back
}

void sqlite_ledger::replace_games(const std::vector<protocol::team_game>& games) {
  SQLite::Transaction tx(impl_->db);
  impl_->db.exec("DELETE FROM games");
  SQLite::Statement insert(impl_->db, "INSERT INTO games (game_id, data) VALUES (?, ?)");
  for (const auto& g : games) {
    insert.reset();
    insert.bind(1, g.game_id);
    insert.bind(2, protocol::to_canonical(protocol::to_json(g)));
    insert.exec();
  }
  tx.commit();
}

std::vector<protocol::team_game> sqlite_ledger::load_games() {
  std::vector<protocol::team_game> out;
  SQLite::Statement q(impl_->db, "SELECT data FROM games ORDER BY game_id");
  while (q.executeStep()) {
    auto v = protocol::parse_json(q.getColumn(0).getString());
    if (!v) continue;
    auto g = protocol::parse_team_game(*v);
    if (g) out.push_back(std::move(*g));
  }
  return out;
}

std::size_t sqlite_ledger::accepted_count() {
  return static_cast<std::size_t>(
      impl_->db.execAndGet("SELECT COUNT(*) FROM predictions WHERE accepted = 1").getInt64());
}

std::size_t sqlite_ledger::prediction_rows(const std::string& prediction_id) {
  SQLite::Statement q(impl_->db, "SELECT COUNT(*) FROM predictions WHERE prediction_id = ?");
  q.bind(1, prediction_id);
  q.executeStep();
  return static_cast<std::size_t>(q.getColumn(0).getInt64());
}

}  // namespace bettensor::storage
