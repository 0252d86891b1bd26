#include "bettensor/storage/postgres_ledger.hpp"

#include <charconv>
#include <cstdio>

#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"
#include "pg_connection.hpp"

namespace bettensor::storage {

namespace {

constexpr int schema_version = 1;
// Any fixed key: every instance takes it around the migration, so two starting at once do not
// race on CREATE TABLE.
constexpr const char* migration_lock = "SELECT pg_advisory_lock(7239104853)";
constexpr const char* migration_unlock = "SELECT pg_advisory_unlock(7239104853)";

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS channel_verdicts (
  prediction_id TEXT PRIMARY KEY,
  miner_hotkey  TEXT NOT NULL,
  miner_uid     TEXT NOT NULL,
  game_id       TEXT NOT NULL,
  wager         DOUBLE PRECISION NOT NULL,
  accepted      BOOLEAN NOT NULL,
  message       TEXT NOT NULL,
  utc_day       DATE NOT NULL,
  received_at   TIMESTAMPTZ NOT NULL,
  data          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS channel_daily_wagers (
  miner_hotkey TEXT NOT NULL,
  utc_day      DATE NOT NULL,
  total        DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (miner_hotkey, utc_day)
);
CREATE TABLE IF NOT EXISTS channel_games (
  game_id TEXT PRIMARY KEY,
  data    TEXT NOT NULL
);
)sql";

// libpq takes text parameters as C strings: a NUL byte would silently cut one short, so a value
// holding one is refused (PostgreSQL's text cannot hold it either).
void check_no_nul(const std::string& s, const char* what) {
  if (s.find('\0') != std::string::npos)
    throw storage_error(std::string("PostgreSQL cannot store a ") + what + " holding a NUL byte");
}

void check_entry(const ledger_entry& e) {
  const auto& p = e.prediction;
  check_no_nul(p.prediction_id, "prediction_id");
  check_no_nul(p.miner_uid, "miner_uid");
  check_no_nul(p.game_id, "game_id");
  check_no_nul(e.hotkey, "hotkey");
}

double to_double(const char* text) {
  double v = 0;
  const std::string_view s(text);
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

struct postgres_ledger::impl {
  explicit impl(const db_url& url) : conn(url) {
    migrate();
    prepare();
  }

  // Creates or migrates the schema; refuses a database a newer version wrote.
  void migrate() {
    conn.exec(migration_lock);
    try {
      conn.exec("CREATE TABLE IF NOT EXISTS channel_schema (version INTEGER NOT NULL)");
      auto r = conn.exec("SELECT COALESCE(MAX(version), 0) FROM channel_schema");
      const int version = std::atoi(PQgetvalue(r.get(), 0, 0));
      if (version > schema_version) {
        throw storage_error(conn.where() + "was written by a newer version (schema " +
                            std::to_string(version) + ")");
      }
      conn.exec(schema);
      if (version < schema_version) {
        conn.exec("DELETE FROM channel_schema");
        conn.exec("INSERT INTO channel_schema (version) VALUES (" + std::to_string(schema_version) +
                  ")");
      }
    } catch (...) {
      try {
        conn.exec(migration_unlock);
      } catch (const storage_error&) {  // a lost session releases the lock itself
      }
      throw;
    }
    conn.exec(migration_unlock);
  }

  // The statements of the hot path, prepared once per connection: after any reconnect (by
  // whichever call met the lost connection first) they are prepared again.
  void prepare() {
    conn.ready();
    const auto generation = conn.generation();
    conn.prepare("find_verdict",
                 "SELECT accepted, message FROM channel_verdicts WHERE prediction_id = $1");
    conn.prepare("find_total",
                 "SELECT total FROM channel_daily_wagers WHERE miner_hotkey = $1 AND "
                 "utc_day = $2::date");
    conn.prepare("insert_verdict",
                 "INSERT INTO channel_verdicts (prediction_id, miner_hotkey, miner_uid, game_id, "
                 "wager, accepted, message, utc_day, received_at, data) VALUES ($1, $2, $3, $4, "
                 "$5::float8, $6::boolean, $7, $8::date, $9::timestamptz, $10)");
    conn.prepare("add_wager",
                 "INSERT INTO channel_daily_wagers (miner_hotkey, utc_day, total) VALUES ($1, "
                 "$2::date, $3::float8) ON CONFLICT (miner_hotkey, utc_day) DO UPDATE SET total "
                 "= channel_daily_wagers.total + excluded.total");
    // One lock per distinct hash, taken in hash order by every instance: no two instances wait
    // on each other's locks in opposite orders.
    conn.prepare("lock_hotkeys",
                 "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) "
                 "AS h FROM unnest($1::text[]) AS k ORDER BY 1) AS s");
    prepared_for = generation;
  }

  void begin() {
    if (in_tx) return;
    conn.ready();
    if (conn.generation() != prepared_for) prepare();
    conn.exec("BEGIN");
    in_tx = true;
  }

  detail::pg_connection conn;
  std::uint64_t prepared_for = 0;  // the connection generation the statements belong to
  bool in_tx = false;
};

postgres_ledger::postgres_ledger(const db_url& url) : impl_(std::make_unique<impl>(url)) {}

postgres_ledger::~postgres_ledger() = default;

void postgres_ledger::begin_batch(std::span<const std::string_view> hotkeys) {
  impl_->begin();
  if (hotkeys.empty()) return;
  const std::string array = detail::pg_text_array(hotkeys);
  impl_->conn.exec_prepared("lock_hotkeys", {array.c_str()});
}

std::optional<verdict> postgres_ledger::find_verdict(const std::string& prediction_id) {
  check_no_nul(prediction_id, "prediction_id");
  impl_->begin();
  auto r = impl_->conn.exec_prepared("find_verdict", {prediction_id.c_str()});
  if (PQntuples(r.get()) == 0) return std::nullopt;
  if (std::string_view(PQgetvalue(r.get(), 0, 0)) == "t") return verdict{{}, {}, true};
  std::string text = PQgetvalue(r.get(), 0, 1);
  const auto reason = protocol::rejection_of_text(text);
  return verdict{reason, std::move(text), true};
}

double postgres_ledger::daily_total(const std::string& hotkey, const std::string& day) {
  impl_->begin();
  auto r = impl_->conn.exec_prepared("find_total", {hotkey.c_str(), day.c_str()});
  return PQntuples(r.get()) == 0 ? 0.0 : to_double(PQgetvalue(r.get(), 0, 0));
}

void postgres_ledger::record(const std::vector<ledger_entry>& batch) {
  impl_->begin();
  auto& c = impl_->conn;
  for (const auto& e : batch) {
    check_entry(e);
    const auto& p = e.prediction;
    const std::string wager = detail::pg_number(p.wager);
    const std::string received = protocol::format_timestamp(e.received);
    std::string data;
    protocol::append_canonical(data, p);
    c.exec_prepared(
        "insert_verdict",
        {p.prediction_id.c_str(), e.hotkey.c_str(), p.miner_uid.c_str(), p.game_id.c_str(),
         wager.c_str(), e.decision.accepted() ? "true" : "false", e.decision.message.c_str(),
         e.utc_day.c_str(), received.c_str(), data.c_str()});
    if (e.decision.accepted()) {
      c.exec_prepared("add_wager", {e.hotkey.c_str(), e.utc_day.c_str(), wager.c_str()});
    }
  }
  c.exec("COMMIT");
  impl_->in_tx = false;
}

void postgres_ledger::discard() noexcept {
  if (!impl_->in_tx) return;
  impl_->in_tx = false;
  if (!impl_->conn.connected()) return;
  try {
    impl_->conn.exec("ROLLBACK");
  } catch (const std::exception&) {
    impl_->conn.close();  // the next call starts on a fresh connection
  }
}

void postgres_ledger::replace_games(const std::vector<protocol::team_game>& games) {
  impl_->begin();
  auto& c = impl_->conn;
  try {
    c.exec("DELETE FROM channel_games");
    for (const auto& g : games) {
      check_no_nul(g.game_id, "game_id");
      const std::string data = protocol::to_canonical(protocol::to_json(g));
      c.exec("INSERT INTO channel_games (game_id, data) VALUES ($1, $2)",
             {g.game_id.c_str(), data.c_str()});
    }
    // Delivered to every listening instance when (and only if) the set commits.
    c.exec(std::string("NOTIFY ") + games_channel);
    c.exec("COMMIT");
    impl_->in_tx = false;
  } catch (...) {
    discard();
    throw;
  }
}

std::vector<protocol::team_game> postgres_ledger::load_games() {
  auto r = impl_->conn.exec("SELECT game_id, data FROM channel_games ORDER BY game_id");
  std::vector<protocol::team_game> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    auto v = protocol::parse_json(PQgetvalue(r.get(), i, 1));
    if (!v) {
      std::fprintf(stderr, "storage: stored game '%s' skipped: %s\n", PQgetvalue(r.get(), i, 0),
                   v.error().message.c_str());
      continue;
    }
    auto g = protocol::parse_team_game(*v);
    if (!g) {
      std::fprintf(stderr, "storage: stored game '%s' skipped: %s\n", PQgetvalue(r.get(), i, 0),
                   g.error().message.c_str());
      continue;
    }
    out.push_back(std::move(*g));
  }
  return out;
}

std::size_t postgres_ledger::accepted_count() {
  auto r = impl_->conn.exec("SELECT COUNT(*) FROM channel_verdicts WHERE accepted");
  return std::stoull(PQgetvalue(r.get(), 0, 0));
}

std::size_t postgres_ledger::prediction_rows(const std::string& prediction_id) {
  auto r = impl_->conn.exec("SELECT COUNT(*) FROM channel_verdicts WHERE prediction_id = $1",
                            {prediction_id.c_str()});
  return std::stoull(PQgetvalue(r.get(), 0, 0));
}

}  // namespace bettensor::storage
