#include "bettensor/storage/miner_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/timestamp.hpp"
#include "database.hpp"

namespace bettensor::storage {

namespace {

constexpr int schema_version = 1;

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS games (
  game_id          TEXT PRIMARY KEY,
  last_update_us   INTEGER NOT NULL,
  data             TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  prediction_id TEXT NOT NULL UNIQUE,
  game_id       TEXT NOT NULL,
  data          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
  validator     TEXT NOT NULL,
  prediction_id TEXT NOT NULL,
  accepted      INTEGER NOT NULL,
  message       TEXT NOT NULL,
  PRIMARY KEY (validator, prediction_id)
);
CREATE INDEX IF NOT EXISTS answers_by_prediction ON answers (prediction_id);
)sql";

template <class T, class Parse>
std::optional<T> decode(const std::string& text, Parse parse) {
  auto v = protocol::parse_json(text);
  if (!v) return std::nullopt;
  auto t = parse(*v);
  if (!t) return std::nullopt;
  return std::move(*t);
}

}  // namespace

struct miner_store::impl {
  explicit impl(const std::filesystem::path& path)
      : db(detail::open_database(path, schema, schema_version)), file(path.string()) {}
  SQLite::Database db;
  std::string file;

  // Runs one statement; an SQLite failure (disk full, read-only file, I/O error) becomes a
  // storage_error naming the file, which the miner survives and retries.
  template <class F>
  auto guard(F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const SQLite::Exception& e) {
      throw storage_error("miner database " + file + ": " + e.what());
    }
  }
};

miner_store::miner_store(const std::filesystem::path& path) : impl_(std::make_unique<impl>(path)) {}
miner_store::~miner_store() = default;

bool miner_store::upsert_game(const protocol::team_game& game) {
  return impl_->guard([&] {
    const auto updated = protocol::parse_timestamp(game.last_update_date);
    if (!updated) return false;
    const auto us = updated->time_since_epoch().count();
    SQLite::Statement q(
        impl_->db,
        "INSERT INTO games (game_id, last_update_us, data) VALUES (?, ?, ?) "
        "ON CONFLICT (game_id) DO UPDATE SET last_update_us = excluded.last_update_us, "
        "data = excluded.data WHERE excluded.last_update_us > games.last_update_us");
    q.bind(1, game.game_id);
    q.bind(2, static_cast<std::int64_t>(us));
    q.bind(3, protocol::to_canonical(protocol::to_json(game)));
    return q.exec() > 0;
  });
}

std::optional<protocol::team_game> miner_store::game(const std::string& game_id) {
  return impl_->guard([&]() -> std::optional<protocol::team_game> {
    SQLite::Statement q(impl_->db, "SELECT data FROM games WHERE game_id = ?");
    q.bind(1, game_id);
    if (!q.executeStep()) return std::nullopt;
    return decode<protocol::team_game>(q.getColumn(0).getString(),
                                       [](const auto& v) { return protocol::parse_team_game(v); });
  });
}

std::vector<protocol::team_game> miner_store::games() {
  return impl_->guard([&] {
    std::vector<protocol::team_game> out;
    SQLite::Statement q(impl_->db, "SELECT data FROM games ORDER BY game_id");
    while (q.executeStep()) {
      auto g = decode<protocol::team_game>(
          q.getColumn(0).getString(), [](const auto& v) { return protocol::parse_team_game(v); });
      if (g) out.push_back(std::move(*g));
    }
    return out;
  });
}

bool miner_store::add_prediction(const protocol::team_game_prediction& p) {
  return impl_->guard([&] {
    SQLite::Statement q(impl_->db,
                        "INSERT INTO outbox (prediction_id, game_id, data) VALUES (?, ?, ?) "
                        "ON CONFLICT (prediction_id) DO NOTHING");
    q.bind(1, p.prediction_id);
    q.bind(2, p.game_id);
    std::string data;
    protocol::append_canonical(data, p);
    q.bind(3, data);
    return q.exec() > 0;  // autocommit: durable (synchronous=FULL) when this returns
  });
}

bool miner_store::has_prediction_for_game(const std::string& game_id) {
  return impl_->guard([&] {
    SQLite::Statement q(impl_->db, "SELECT 1 FROM outbox WHERE game_id = ? LIMIT 1");
    q.bind(1, game_id);
    return q.executeStep();
  });
}

std::size_t miner_store::prediction_count() {
  return impl_->guard([&] {
    SQLite::Statement q(impl_->db, "SELECT COUNT(*) FROM outbox");
    q.executeStep();
    return static_cast<std::size_t>(q.getColumn(0).getInt64());
  });
}

std::vector<protocol::team_game_prediction> miner_store::pending_for(const std::string& validator) {
  return impl_->guard([&] {
    std::vector<protocol::team_game_prediction> out;
    SQLite::Statement q(impl_->db,
                        "SELECT o.data FROM outbox o LEFT JOIN answers a "
                        "ON a.validator = ? AND a.prediction_id = o.prediction_id "
                        "WHERE a.prediction_id IS NULL ORDER BY o.seq");
    q.bind(1, validator);
    while (q.executeStep()) {
      auto p = decode<protocol::team_game_prediction>(
          q.getColumn(0).getString(), [](const auto& v) { return protocol::parse_prediction(v); });
      if (p) out.push_back(std::move(*p));
    }
    return out;
  });
}

void miner_store::record_answer(const std::string& validator, const std::string& prediction_id,
                                bool accepted, const std::string& message) {
  return impl_->guard([&] {
    SQLite::Statement q(
        impl_->db,
        "INSERT INTO answers (validator, prediction_id, accepted, message) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (validator, prediction_id) DO NOTHING");
    q.bind(1, validator);
    q.bind(2, prediction_id);
    q.bind(3, accepted ? 1 : 0);
    q.bind(4, message);
    q.exec();
  });
}

std::vector<outbox_entry> miner_store::recent_predictions(std::size_t limit) {
  return impl_->guard([&] {
    std::vector<outbox_entry> out;
    SQLite::Statement q(impl_->db, "SELECT data FROM outbox ORDER BY seq DESC LIMIT ?");
    q.bind(1, static_cast<std::int64_t>(limit));
    while (q.executeStep()) {
      auto p = decode<protocol::team_game_prediction>(
          q.getColumn(0).getString(), [](const auto& v) { return protocol::parse_prediction(v); });
      if (p) out.push_back({std::move(*p), {}});
    }
    SQLite::Statement a(impl_->db,
                        "SELECT validator, accepted, message FROM answers WHERE prediction_id = ? "
                        "ORDER BY validator");
    for (auto& e : out) {
      a.reset();
      a.bind(1, e.prediction.prediction_id);
      while (a.executeStep()) {
        e.answers.push_back(
            {a.getColumn(0).getString(), a.getColumn(1).getInt() != 0, a.getColumn(2).getString()});
      }
    }
    return out;
  });
}

std::optional<std::pair<bool, std::string>> miner_store::answer(const std::string& validator,
                                                                const std::string& prediction_id) {
  return impl_->guard([&]() -> std::optional<std::pair<bool, std::string>> {
    SQLite::Statement q(
        impl_->db,
        "SELECT accepted, message FROM answers WHERE validator = ? AND prediction_id = ?");
    q.bind(1, validator);
    q.bind(2, prediction_id);
    if (!q.executeStep()) return std::nullopt;
    return std::make_pair(q.getColumn(0).getInt() != 0, q.getColumn(1).getString());
  });
}

}  // namespace bettensor::storage
