#include "bettensor/storage/validator_store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <boost/json/serialize.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

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

struct request {
  std::string hotkey;
  protocol::team_game_prediction prediction;
  protocol::timestamp received;
  prediction_rules rules;
  std::function<void(verdict)> done;
};

}  // namespace

std::string utc_day(protocol::timestamp t) {
  const std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(t)};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

struct validator_store::impl {
  impl(options o, commit_observer observer)
      : opts(std::move(o)),
        on_commit(std::move(observer)),
        db(detail::open_database(opts.path, schema, schema_version)) {
    find_verdict.emplace(db, "SELECT accepted, message FROM predictions WHERE prediction_id = ?");
    find_total.emplace(db, "SELECT total FROM daily_wagers WHERE miner_hotkey = ? AND utc_day = ?");
    insert_prediction.emplace(db,
                              "INSERT INTO predictions (prediction_id, miner_hotkey, miner_uid, "
                              "game_id, wager, accepted, message, utc_day, received_at, data) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    add_wager.emplace(
        db,
        "INSERT INTO daily_wagers (miner_hotkey, utc_day, total) VALUES (?, ?, ?) "
        "ON CONFLICT (miner_hotkey, utc_day) DO UPDATE SET total = total + excluded.total");
    worker = std::thread([this] { run(); });
  }

  void run() {
    std::vector<request> batch;
    for (;;) {
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping, and everything is done
        while (!queue.empty() && batch.size() < opts.max_batch) {
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
        in_flight = batch.size();
      }
      const std::vector<verdict> verdicts = commit(batch);
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(verdicts[i]);
      batch.clear();
      {
        std::lock_guard lock(mutex);
        in_flight = 0;
      }
      idle.notify_all();
    }
  }

  // Decides and writes a batch in one transaction; on any storage failure nothing of the batch
  // is kept and every request gets the storage failure verdict.
  std::vector<verdict> commit(std::vector<request>& batch) {
    std::vector<verdict> out;
    out.reserve(batch.size());
    try {
      const auto t0 = std::chrono::steady_clock::now();
      SQLite::Transaction tx(db);
      for (auto& r : batch) out.push_back(decide(r));
      tx.commit();
      batches.fetch_add(1, std::memory_order_relaxed);
      if (on_commit) {
        on_commit(batch.size(),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "storage: batch of %zu predictions not stored: %s\n", batch.size(),
                   e.what());
      out.assign(batch.size(), verdict::refused(protocol::rejection::storage_failure));
    }
    return out;
  }

  verdict decide(request& r) {
    const auto& p = r.prediction;
    find_verdict->reset();
    find_verdict->bind(1, p.prediction_id);
    if (find_verdict->executeStep()) {
      // The original verdict, as stored: its text is sent again as it was written.
      if (find_verdict->getColumn(0).getInt() != 0) return verdict{{}, {}, true};
      std::string text = find_verdict->getColumn(1).getString();
      const auto reason = protocol::rejection_of_text(text);
      return verdict{reason, std::move(text), true};
    }
    // Accepted unless a rule or the daily limit says otherwise; the row is written from it.
    verdict v;
    if (r.rules) {
      if (const auto broken = r.rules(p)) v = verdict::refused(*broken);
    }
    const std::string day = utc_day(r.received);
    if (v.accepted()) {
      find_total->reset();
      find_total->bind(1, r.hotkey);
      find_total->bind(2, day);
      const double total = find_total->executeStep() ? find_total->getColumn(0).getDouble() : 0.0;
      if (total + p.wager > opts.daily_wager_limit)
        v = verdict::refused(protocol::rejection::daily_limit);
    }
    insert_prediction->reset();
    insert_prediction->bind(1, p.prediction_id);
    insert_prediction->bind(2, r.hotkey);
    insert_prediction->bind(3, p.miner_uid);
    insert_prediction->bind(4, p.game_id);
    insert_prediction->bind(5, p.wager);
    insert_prediction->bind(6, v.accepted() ? 1 : 0);
    insert_prediction->bind(7, v.message);
    insert_prediction->bind(8, day);
    insert_prediction->bind(9, protocol::format_timestamp(r.received));
    insert_prediction->bind(10, protocol::to_canonical(protocol::to_json(p)));
    insert_prediction->exec();
    if (v.accepted()) {
      add_wager->reset();
      add_wager->bind(1, r.hotkey);
      add_wager->bind(2, day);
      add_wager->bind(3, p.wager);
      add_wager->exec();
    }
    return v;
  }

  options opts;
  commit_observer on_commit;
  SQLite::Database db;
  std::optional<SQLite::Statement> find_verdict;
  std::optional<SQLite::Statement> find_total;
  std::optional<SQLite::Statement> insert_prediction;
  std::optional<SQLite::Statement> add_wager;

  // Guards queue, in_flight and stopping. The connection is used by the worker while a batch is
  // in flight, otherwise by a synchronous call holding this mutex.
  std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable idle;
  std::deque<request> queue;
  std::size_t in_flight = 0;
  bool stopping = false;
  std::atomic<std::size_t> batches{0};
  std::thread worker;
};

validator_store::validator_store(options opts, commit_observer on_commit)
    : impl_(std::make_unique<impl>(std::move(opts), std::move(on_commit))) {}

validator_store::~validator_store() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->worker.join();
}

void validator_store::submit(std::string hotkey, protocol::team_game_prediction prediction,
                             protocol::timestamp received, prediction_rules rules,
                             std::function<void(verdict)> done) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->queue.push_back(request{std::move(hotkey), std::move(prediction), received,
                                   std::move(rules), std::move(done)});
  }
  impl_->wake.notify_one();
}

void validator_store::flush() {
  std::unique_lock lock(impl_->mutex);
  impl_->idle.wait(lock, [&] { return impl_->queue.empty() && impl_->in_flight == 0; });
}

// The synchronous calls below share the connection with the worker; they first wait for it to be
// idle and hold the queue lock meanwhile, so the worker cannot start a batch.
void validator_store::save_games(const std::vector<protocol::team_game>& games) {
  std::unique_lock lock(impl_->mutex);
  impl_->idle.wait(lock, [&] { return impl_->in_flight == 0; });
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

std::vector<protocol::team_game> validator_store::load_games() {
  std::unique_lock lock(impl_->mutex);
  impl_->idle.wait(lock, [&] { return impl_->in_flight == 0; });
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

std::size_t validator_store::accepted_count() {
  std::unique_lock lock(impl_->mutex);
  impl_->idle.wait(lock, [&] { return impl_->in_flight == 0; });
  return static_cast<std::size_t>(
      impl_->db.execAndGet("SELECT COUNT(*) FROM predictions WHERE accepted = 1").getInt64());
}

std::size_t validator_store::prediction_rows(const std::string& prediction_id) {
  std::unique_lock lock(impl_->mutex);
  impl_->idle.wait(lock, [&] { return impl_->in_flight == 0; });
  SQLite::Statement q(impl_->db, "SELECT COUNT(*) FROM predictions WHERE prediction_id = ?");
  q.bind(1, prediction_id);
  q.executeStep();
  return static_cast<std::size_t>(q.getColumn(0).getInt64());
}

double validator_store::daily_total(const std::string& hotkey, protocol::timestamp day) {
  std::unique_lock lock(impl_->mutex);
  impl_->idle.wait(lock, [&] { return impl_->in_flight == 0; });
  SQLite::Statement q(impl_->db,
                      "SELECT total FROM daily_wagers WHERE miner_hotkey = ? AND utc_day = ?");
  q.bind(1, hotkey);
  q.bind(2, utc_day(day));
  return q.executeStep() ? q.getColumn(0).getDouble() : 0.0;
}

std::size_t validator_store::batches_committed() const {
  return impl_->batches.load(std::memory_order_relaxed);
}

}  // namespace bettensor::storage
