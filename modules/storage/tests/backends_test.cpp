// Every backend behind the ledger interface gives the pipeline the same verdict semantics: the
// tests below run against the channel's SQLite file, the Python validator's database (built
// from the reference's own DDL, tests/data) and a throwaway PostgreSQL cluster. Then what only
// one backend does: the neuron's tables in their types, its games and miner stats; two
// instances on one PostgreSQL database, a server restarted mid-run, and LISTEN/NOTIFY.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "bettensor/storage/postgres_events.hpp"
#include "bettensor/storage/postgres_ledger.hpp"
#include "bettensor/storage/sqlite_ledger.hpp"
#include "bettensor/storage/validator_store.hpp"
#include "bettensor/test/pg_cluster.hpp"
#include "bettensor/test/sqlite_exec.hpp"

namespace bettensor::storage {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using backend = db_url::backend;
using test::sqlite_exec;

std::string numbered(std::string_view prefix, long long n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

// One cluster for the whole test program: initdb costs a second; each test gets a database.
test::pg_cluster& cluster() {
  static test::pg_cluster c;
  return c;
}

std::string fresh_database() {
  static std::atomic<int> n{0};
  return cluster().create_database(numbered("ledger_", n++));
}

// The first column of every row, as text ("NULL" for null).
std::vector<std::string> sqlite_column(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<std::string> out;
  if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) return out;
  sqlite3_stmt* q = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &q, nullptr) == SQLITE_OK) {
    while (sqlite3_step(q) == SQLITE_ROW) {
      const auto* t = sqlite3_column_text(q, 0);
      out.emplace_back(t != nullptr ? reinterpret_cast<const char*>(t) : "NULL");
    }
  }
  sqlite3_finalize(q);
  sqlite3_close(db);
  return out;
}

std::string reference_ddl() {
  std::ifstream in(fs::path(BETTENSOR_TEST_DATA_DIR) / "bettensor_validator_tables.sql");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ledger_fixture {
 public:
  ledger_fixture() {
    std::string tmpl = (fs::temp_directory_path() / "bettensor-backends-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = tmpl;
  }
  ~ledger_fixture() { fs::remove_all(dir_); }
  ledger_fixture(const ledger_fixture&) = delete;
  ledger_fixture& operator=(const ledger_fixture&) = delete;

  db_url make(backend b) {
    switch (b) {
      case backend::sqlite:
        return db_url::sqlite(dir_ / "validator.db");
      case backend::bettensor: {
        const auto file = neuron_file();
        return {backend::bettensor, file, {}};
      }
      case backend::postgresql:
        return parse_db_url(fresh_database());
    }
    return {};
  }

  // The neuron's database as the reference creates it.
  fs::path neuron_file() {
    const auto file = dir_ / "neuron-validator.db";
    if (!fs::exists(file)) sqlite_exec(file, reference_ddl());
    return file;
  }

  static validator_store::options opts(db_url url) {
    validator_store::options o;
    o.url = std::move(url);
    o.daily_wager_limit = 1000.0;
    o.retry_base = 20ms;
    o.retry_max = 200ms;
    return o;
  }

  static protocol::team_game_prediction prediction(std::string id, double wager) {
    return {.prediction_id = std::move(id),
            .game_id = "4711",
            .miner_uid = "7",
            .predicted_outcome = "A",
            .predicted_odds = 1.9,
            .team_a = "A",
            .team_b = "B",
            .wager = wager,
            .team_a_odds = 1.9,
            .team_b_odds = 2.1};
  }

  static verdict decide(validator_store& s, const miner_ref& who, protocol::team_game_prediction p,
                        prediction_rules rules = {},
                        protocol::timestamp when = protocol::now_utc()) {
    std::promise<verdict> done;
    auto f = done.get_future();
    s.submit(who, std::move(p), when, std::move(rules), [&](verdict v) { done.set_value(v); });
    return f.get();
  }

  // One prediction (wager 1) for each id, submitted while the storage thread is held so that
  // they share one batch; their verdicts in order.
  static std::vector<verdict> one_batch(validator_store& s, const std::vector<std::string>& ids) {
    std::promise<void> gate;
    std::shared_future<void> open = gate.get_future().share();
    s.submit("gate", prediction("gate", 1), protocol::now_utc(), {},
             [open](verdict) { open.wait(); });
    std::vector<std::promise<verdict>> out(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      s.submit("alice", prediction(ids[i], 1), protocol::now_utc(), {},
               [&out, i](verdict v) { out[i].set_value(v); });
    }
    gate.set_value();
    std::vector<verdict> verdicts;
    for (auto& o : out) verdicts.push_back(o.get_future().get());
    return verdicts;
  }

  [[nodiscard]] const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

class BackendTest : public ::testing::TestWithParam<backend>, public ledger_fixture {
 protected:
  void SetUp() override { url_ = make(GetParam()); }
  db_url url_;
};

TEST_P(BackendTest, AcceptsStoresOnceAndADuplicateGetsTheOriginalVerdict) {
  validator_store s(opts(url_));
  const auto first = decide(s, {"alice", 7}, prediction("p-1", 10));
  EXPECT_TRUE(first.accepted());
  EXPECT_FALSE(first.duplicate);
  const auto again = decide(s, {"alice", 7}, prediction("p-1", 10));
  EXPECT_TRUE(again.accepted());
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(s.prediction_rows("p-1"), 1u);

  const auto refused = decide(s, "alice", prediction("p-2", 10), [](const auto&) {
    return std::optional(protocol::rejection::game_started);
  });
  EXPECT_EQ(refused.message, "Game has already started");
  const auto refused_again = decide(s, "alice", prediction("p-2", 10));
  EXPECT_TRUE(refused_again.duplicate);
  EXPECT_EQ(refused_again.message, "Game has already started");
  EXPECT_EQ(s.accepted_count(), 1u);
}

TEST_P(BackendTest, DailyLimitPerHotkeyAndUtcDay) {
  validator_store s(opts(url_));
  const auto day1 = protocol::parse_timestamp("2026-11-30T23:59:00+00:00").value();
  const auto day2 = protocol::parse_timestamp("2026-12-01T00:01:00+00:00").value();
  EXPECT_TRUE(decide(s, "alice", prediction("a", 600), {}, day1).accepted());
  EXPECT_TRUE(decide(s, "alice", prediction("b", 400), {}, day1).accepted());
  EXPECT_EQ(decide(s, "alice", prediction("c", 0.5), {}, day1).message,
            "Prediction would exceed daily wager limit");
  EXPECT_TRUE(decide(s, "bob", prediction("d", 900), {}, day1).accepted());
  EXPECT_TRUE(decide(s, "alice", prediction("e", 500), {}, day2).accepted());
  EXPECT_EQ(s.daily_total("alice", day1), 1000.0);
  EXPECT_EQ(s.daily_total("alice", day2), 500.0);
}

TEST_P(BackendTest, RestartKeepsVerdictsAndTotals) {
  const auto now = protocol::now_utc();
  {
    validator_store s(opts(url_));
    EXPECT_TRUE(decide(s, "alice", prediction("p1", 700), {}, now).accepted());
  }
  validator_store s(opts(url_));
  EXPECT_EQ(s.accepted_count(), 1u);
  EXPECT_EQ(s.daily_total("alice", now), 700.0);
  EXPECT_TRUE(decide(s, "alice", prediction("p1", 700), {}, now).duplicate);
  EXPECT_EQ(decide(s, "alice", prediction("p2", 301), {}, now).message,
            "Prediction would exceed daily wager limit");
}

TEST_P(BackendTest, ConcurrentSubmissionsAllGetTheirVerdict) {
  validator_store s(opts(url_));
  std::atomic<int> accepted{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (decide(s, numbered("miner-", t), prediction(numbered(numbered("c", t) + "-", i), 1))
                .accepted())
          ++accepted;
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(accepted.load(), 400);
  EXPECT_EQ(s.accepted_count(), 400u);
}

// The SQLite files, ours and the neuron's: a row SQLite refuses (here a trigger added by another
// connection) fails its batch, and each prediction is then tried alone. The failed insert must
// not fail the next prediction's: its error was reported once, with the batch.
class SqliteFileTest : public BackendTest {};

TEST_P(SqliteFileTest, ARowSqliteRefusesIsRefusedAloneNotItsBatch) {
  validator_store s(opts(url_));
  const char* table = GetParam() == backend::sqlite ? "predictions" : "channel_verdicts";
  sqlite_exec(url_.path, std::string("CREATE TRIGGER refuse_bad BEFORE INSERT ON ") + table +
                             " WHEN NEW.prediction_id = 'bad' BEGIN SELECT RAISE(ABORT, "
                             "'refused by a trigger'); END;");
  const auto v = one_batch(s, {"ok-1", "bad", "ok-2"});
  EXPECT_TRUE(v[0].accepted());
  EXPECT_EQ(v[1].rejected, protocol::rejection::storage_failure);
  EXPECT_TRUE(v[2].accepted());
  EXPECT_EQ(s.prediction_rows("bad"), 0u);
  EXPECT_EQ(s.accepted_count(), 3u);  // the gate and both others
}

std::string name_of(const ::testing::TestParamInfo<backend>& info) {
  return std::string(label(info.param));
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendTest,
                         ::testing::Values(backend::sqlite, backend::bettensor,
                                           backend::postgresql),
                         name_of);
INSTANTIATE_TEST_SUITE_P(Files, SqliteFileTest,
                         ::testing::Values(backend::sqlite, backend::bettensor), name_of);

// --- the Python validator's database ---------------------------------------------------------

class BettensorLedgerTest : public ::testing::Test, public ledger_fixture {};

TEST_F(BettensorLedgerTest, AcceptedPredictionsAreRowsOfTheReferenceTableInItsTypes) {
  const auto file = neuron_file();
  {
    validator_store s(opts(make(backend::bettensor)));
    EXPECT_TRUE(decide(s, {"alice", 12}, prediction("p-ok", 25)).accepted());
    auto tie = prediction("p-tie", 5);
    tie.predicted_outcome = "Tie";
    tie.tie_odds = 3.2;
    EXPECT_TRUE(decide(s, {"alice", 12}, tie).accepted());
    EXPECT_FALSE(decide(s, {"alice", 12}, prediction("p-refused", 5), [](const auto&) {
                   return std::optional(protocol::rejection::game_not_found);
                 }).accepted());
  }
  // Their row, in their types: integers where they keep integers, outcome 3 (unfinished),
  // payout unset, the validators_* counters at their defaults.
  EXPECT_EQ(sqlite_column(file,
                          "SELECT typeof(game_id) || ' ' || game_id || ' ' || typeof(miner_uid) "
                          "|| ' ' || miner_uid || ' ' || typeof(predicted_outcome) || ' ' || "
                          "predicted_outcome || ' ' || outcome || ' ' || IFNULL(payout, 'null') "
                          "|| ' ' || validators_sent_to || ' ' || validators_confirmed || ' ' || "
                          "wager FROM predictions ORDER BY prediction_id"),
            (std::vector<std::string>{"integer 4711 integer 12 integer 0 3 null 0 0 25.0",
                                      "integer 4711 integer 12 integer 2 3 null 0 0 5.0"}));
  EXPECT_EQ(sqlite_column(file, "SELECT tie_odds FROM predictions WHERE prediction_id = 'p-tie'"),
            std::vector<std::string>{"3.2"});
  // A refused prediction is ours alone: its verdict is kept in our table, not theirs.
  EXPECT_EQ(sqlite_column(file,
                          "SELECT COUNT(*) FROM predictions WHERE prediction_id = "
                          "'p-refused'"),
            std::vector<std::string>{"0"});
  EXPECT_EQ(sqlite_column(file,
                          "SELECT message FROM channel_verdicts WHERE prediction_id = "
                          "'p-refused'"),
            std::vector<std::string>{"Game not found"});
  // Their schema is what the reference made: no column added, user_version untouched.
  EXPECT_EQ(sqlite_column(file, "SELECT COUNT(*) FROM pragma_table_info('predictions')"),
            std::vector<std::string>{"19"});
  EXPECT_EQ(sqlite_column(file, "PRAGMA user_version"), std::vector<std::string>{"0"});
}

TEST_F(BettensorLedgerTest, APredictionTheNeuronAlreadyHoldsIsADuplicate) {
  const auto file = neuron_file();
  sqlite_exec(file,
              "INSERT INTO predictions (prediction_id, game_id, miner_uid, wager) VALUES "
              "('p-axon', 4711, 7, 10)");
  validator_store s(opts(make(backend::bettensor)));
  const auto v = decide(s, {"alice", 7}, prediction("p-axon", 10));
  EXPECT_TRUE(v.accepted());
  EXPECT_TRUE(v.duplicate);
  EXPECT_EQ(sqlite_column(file, "SELECT COUNT(*) FROM predictions"), std::vector<std::string>{"1"});
}

TEST_F(BettensorLedgerTest, TheMinersStatsRowGoesIntoItsVerdicts) {
  const auto file = neuron_file();
  sqlite_exec(file,
              "INSERT INTO miner_stats (miner_uid, miner_hotkey, miner_cash, "
              "miner_current_tier) VALUES (7, 'alice', 812.5, 3)");
  validator_store s(opts(make(backend::bettensor)));
  const auto v = decide(s, {"alice", 7}, prediction("p-1", 10));
  ASSERT_TRUE(v.miner_stats);
  EXPECT_EQ(v.miner_stats->at("miner_uid"), "7");
  EXPECT_EQ(v.miner_stats->at("miner_hotkey"), "alice");
  EXPECT_EQ(v.miner_stats->at("miner_cash"), "812.5");
  EXPECT_EQ(v.miner_stats->at("miner_current_tier"), "3");
  EXPECT_EQ(v.miner_stats->at("miner_coldkey"), "0");  // NULL, as the reference sends it
  // A miner without a row gets {} (the reference's answer); no uid known, no stats.
  const auto other = decide(s, {"bob", 8}, prediction("p-2", 10));
  ASSERT_TRUE(other.miner_stats);
  EXPECT_TRUE(other.miner_stats->empty());
  EXPECT_FALSE(decide(s, "carol", prediction("p-3", 10)).miner_stats);
}

TEST_F(BettensorLedgerTest, GamesComeFromGameDataAndAChangeIsSeenOnce) {
  const auto file = neuron_file();
  sqlite_exec(file,
              "INSERT INTO game_data (game_id, external_id, team_a, team_b, team_a_odds, "
              "team_b_odds, tie_odds, can_tie, event_start_date, create_date, last_update_date, "
              "sport, league, outcome, active) VALUES ('uuid-1', 4711, 'A', 'B', 1.9, 2.1, NULL, "
              "0, '2099-01-01T00:00:00+00:00', '2026-12-01', '2026-12-01', 'soccer', 'EPL', 3, "
              "1), ('uuid-2', 4712, 'C', 'D', 1.5, 2.5, 3.1, 1, '2099-01-02T00:00:00+00:00', "
              "'2026-12-01', '2026-12-01', 'soccer', 'EPL', 0, 0)");
  sqlite_ledger ledger(file, sqlite_ledger::layout::bettensor);
  auto games = ledger.load_games();
  ASSERT_EQ(games.size(), 1u);  // the finished game (outcome 0) is not offered
  EXPECT_EQ(games[0].game_id, "4711");
  EXPECT_EQ(games[0].outcome, "Unfinished");
  EXPECT_FALSE(games[0].tie_odds);
  EXPECT_FALSE(ledger.games_changed());  // nothing committed since

  sqlite_exec(file, "UPDATE game_data SET team_a_odds = 1.8 WHERE external_id = 4711");
  auto changed = ledger.games_changed();
  ASSERT_TRUE(changed);
  EXPECT_EQ((*changed)[0].team_a_odds, 1.8);
  EXPECT_FALSE(ledger.games_changed());
  // A commit that leaves the offered set as it was is not a change.
  sqlite_exec(file, "UPDATE miner_stats SET miner_cash = 1");
  EXPECT_FALSE(ledger.games_changed());
  // A row whose odds are not numbers is skipped, the others still offered.
  sqlite_exec(file,
              "INSERT INTO game_data (game_id, external_id, team_a, team_b, team_a_odds, "
              "team_b_odds, outcome) VALUES ('uuid-3', 4713, 'E', 'F', 'lots', 2.0, 3)");
  changed = ledger.games_changed();
  EXPECT_FALSE(changed);  // the same offered set
  EXPECT_EQ(ledger.load_games().size(), 1u);
}

TEST_F(BettensorLedgerTest, RefusesAFileThatIsNotTheNeurons) {
  try {
    sqlite_ledger l(dir() / "absent.db", sqlite_ledger::layout::bettensor);
    FAIL() << "opened a missing neuron database";
  } catch (const storage_error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.db: no such file"), std::string::npos) << e.what();
  }
  sqlite_exec(dir() / "other.db", "CREATE TABLE t (x)");
  try {
    sqlite_ledger l(dir() / "other.db", sqlite_ledger::layout::bettensor);
    FAIL() << "opened a database without the reference's tables";
  } catch (const storage_error& e) {
    EXPECT_NE(
        std::string(e.what()).find("is not a Bettensor validator database (no predictions table)"),
        std::string::npos)
        << e.what();
  }
}

// --- PostgreSQL ------------------------------------------------------------------------------

class PostgresLedgerTest : public ::testing::Test, public ledger_fixture {};

TEST_F(PostgresLedgerTest, TwoInstancesStoreAnIdOnceAndAnswerItWithOneVerdict) {
  const auto url = make(backend::postgresql);
  validator_store a(opts(url));
  validator_store b(opts(url));
  constexpr int n = 200;
  std::vector<verdict> from_a(n);
  std::vector<verdict> from_b(n);
  // The same ids sent to both instances at once; every other one is refused by its rules.
  const auto rules_for = [](int i) -> prediction_rules {
    if (i % 2 == 0) return {};
    return [](const auto&) { return std::optional(protocol::rejection::invalid_outcome); };
  };
  std::thread ta([&] {
    for (int i = 0; i < n; ++i)
      from_a[i] =
          decide(a, numbered("miner-", i % 10), prediction(numbered("id-", i), 1), rules_for(i));
  });
  std::thread tb([&] {
    for (int i = 0; i < n; ++i)
      from_b[i] =
          decide(b, numbered("miner-", i % 10), prediction(numbered("id-", i), 1), rules_for(i));
  });
  ta.join();
  tb.join();
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(from_a[i].accepted(), i % 2 == 0) << i;
    EXPECT_EQ(from_a[i].accepted(), from_b[i].accepted()) << i;
    EXPECT_EQ(from_a[i].message, from_b[i].message) << i;
    EXPECT_NE(from_a[i].duplicate, from_b[i].duplicate) << "id-" << i << " decided twice";
    EXPECT_EQ(a.prediction_rows(numbered("id-", i)), 1u) << i;
  }
  EXPECT_EQ(a.accepted_count(), static_cast<std::size_t>(n / 2));
}

TEST_F(PostgresLedgerTest, ADailyLimitSplitAcrossInstancesStillStopsAtTheLimit) {
  const auto url = make(backend::postgresql);
  validator_store a(opts(url));
  validator_store b(opts(url));
  std::atomic<int> accepted{0};
  const auto send = [&](validator_store& s, std::string_view prefix) {
    for (int i = 0; i < 60; ++i) {
      if (decide(s, "alice", prediction(numbered(prefix, i), 20)).accepted()) ++accepted;
    }
  };
  std::thread ta([&] { send(a, "a-"); });
  std::thread tb([&] { send(b, "b-"); });
  ta.join();
  tb.join();
  EXPECT_EQ(accepted.load(), 50);  // 50 × 20 = 1000 of the 2,400 offered
  EXPECT_EQ(a.daily_total("alice", protocol::now_utc()), 1000.0);
  EXPECT_EQ(b.accepted_count(), 50u);
}

TEST_F(PostgresLedgerTest, AServerRestartedMidRunLosesNothingAndVerdictsWait) {
  const auto url = make(backend::postgresql);
  std::mutex m;
  std::condition_variable cv;
  int unavailable = 0;
  int recovered = 0;
  validator_store s(opts(url), {}, [&](std::optional<retry_reason> why, const std::string&) {
    std::lock_guard lock(m);
    if (!why) {
      ++recovered;
    } else if (*why == retry_reason::unavailable) {
      ++unavailable;
    }
    cv.notify_all();
  });
  for (int i = 0; i < 50; ++i)
    EXPECT_TRUE(decide(s, "alice", prediction(numbered("r-", i), 1)).accepted());
  cluster().stop();
  // Submitted while the server is down: the verdicts wait for it.
  std::atomic<int> delivered{0};
  std::atomic<int> accepted{0};
  for (int i = 50; i < 100; ++i) {
    s.submit("alice", prediction(numbered("r-", i), 1), protocol::now_utc(), {}, [&](verdict v) {
      accepted += v.accepted() ? 1 : 0;
      ++delivered;
    });
  }
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return unavailable > 0; }));
  }
  EXPECT_EQ(delivered.load(), 0);  // no verdict before its commit
  cluster().start();
  s.flush();
  EXPECT_EQ(delivered.load(), 50);
  EXPECT_EQ(accepted.load(), 50);
  {
    std::lock_guard lock(m);
    EXPECT_EQ(recovered, 1);
  }
  EXPECT_EQ(s.accepted_count(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.prediction_rows(numbered("r-", i)), 1u) << i;
  // Restarted again, and this time a query reconnects before any batch does: the batch's
  // statements are prepared again on the new connection.
  cluster().stop();
  cluster().start();
  EXPECT_THROW((void)s.accepted_count(), storage_unavailable);  // the lost connection, reported
  EXPECT_EQ(s.accepted_count(), 100u);                          // and replaced
  EXPECT_TRUE(decide(s, "alice", prediction("after-restart", 1)).accepted());
}

TEST_F(PostgresLedgerTest, AnIdPostgresCannotHoldIsRefusedAloneNotItsBatch) {
  validator_store s(opts(make(backend::postgresql)));
  const std::string poisoned("bad\0id", 6);
  const auto v = one_batch(s, {"ok-1", poisoned, "ok-2"});
  EXPECT_TRUE(v[0].accepted());
  EXPECT_EQ(v[1].rejected, protocol::rejection::storage_failure);
  EXPECT_TRUE(v[2].accepted());
  EXPECT_EQ(s.prediction_rows("bad"), 0u);
}

TEST_F(PostgresLedgerTest, UnreachableOrNewerDatabasesAreRefusedNamingThem) {
  try {
    postgres_ledger l(
        parse_db_url("postgresql://bettensor:s3cret@/nope?host=" + (dir() / "no-server").string()));
    FAIL() << "connected to nothing";
  } catch (const storage_unavailable& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cannot connect"), std::string::npos) << what;
    EXPECT_EQ(what.find("s3cret"), std::string::npos) << what;
  }
  const auto url = make(backend::postgresql);
  { postgres_ledger first(url); }
  const auto from = url.conninfo.find("@/") + 2;
  const auto db = url.conninfo.substr(from, url.conninfo.find('?') - from);
  cluster().psql("UPDATE channel_schema SET version = 99", db);
  try {
    postgres_ledger l(url);
    FAIL() << "opened a newer schema";
  } catch (const storage_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer version (schema 99)"), std::string::npos)
        << e.what();
  }
}

TEST(PostgresEventsTest, NotificationsReachEveryListenerAgainAfterARestart) {
  const auto url = parse_db_url(fresh_database());
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> got;
  int ups = 0;
  postgres_events listener(
      url, {"bettensor_games"},
      [&](const std::string& channel, const std::string& payload) {
        std::lock_guard lock(m);
        got.push_back(channel + ":" + payload);
        cv.notify_all();
      },
      [&](bool up, const std::string&) {
        std::lock_guard lock(m);
        if (up) ++ups;
        cv.notify_all();
      },
      200ms);
  int sender_ups = 0;
  int sender_downs = 0;
  postgres_events sender(
      url, {}, [](const std::string&, const std::string&) {},
      [&](bool up, const std::string&) {
        std::lock_guard lock(m);
        ++(up ? sender_ups : sender_downs);
        cv.notify_all();
      },
      200ms);
  const auto wait_for = [&](auto pred) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, 30s, pred);
  };
  ASSERT_TRUE(wait_for([&] { return ups == 1 && sender_ups == 1; }));
  ASSERT_TRUE(sender.notify("bettensor_games", "one"));
  ASSERT_TRUE(wait_for([&] { return got.size() == 1; }));
  EXPECT_EQ(got[0], "bettensor_games:one");
  cluster().stop();
  ASSERT_TRUE(wait_for([&] { return sender_downs == 1; }));  // told once, however long it lasts
  EXPECT_FALSE(sender.notify("bettensor_games", "lost"));    // not listening: nothing queued
  cluster().start();
  // Both listening again, and told so.
  ASSERT_TRUE(wait_for([&] { return ups == 2 && sender_ups == 2; }));
  ASSERT_TRUE(sender.notify("bettensor_games", "two"));
  ASSERT_TRUE(wait_for([&] { return got.size() == 2; }));
  EXPECT_EQ(got[1], "bettensor_games:two");
  std::lock_guard lock(m);
  EXPECT_EQ(sender_downs, 1);
}

TEST(DbUrlTest, ParsesEachSchemeAndRefusesOthers) {
  EXPECT_EQ(parse_db_url("sqlite:///validator.db").path, "validator.db");
  EXPECT_EQ(parse_db_url("sqlite:////var/lib/v.db").path, "/var/lib/v.db");
  const auto b = parse_db_url("bettensor:///root/bettensor/data/validator.db");
  EXPECT_EQ(b.kind, backend::bettensor);
  EXPECT_EQ(b.path, "root/bettensor/data/validator.db");
  const auto p = parse_db_url("postgresql://v:secret@db.local:5433/bettensor");
  EXPECT_EQ(p.kind, backend::postgresql);
  EXPECT_EQ(to_string(p), "postgresql://v:***@db.local:5433/bettensor");
  EXPECT_EQ(to_string(parse_db_url("postgres:///b?password=x&host=/run")),
            "postgres:///b?password=***&host=/run");
  for (const char* bad : {"mysql://x", "sqlite://x.db", "sqlite:///", "validator.db",
                          "postgresql:///db?no_such_setting=1"}) {
    EXPECT_THROW(parse_db_url(bad), std::invalid_argument) << bad;
  }
}

}  // namespace
}  // namespace bettensor::storage
