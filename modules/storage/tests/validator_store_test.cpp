#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <numeric>
#include <thread>

#include "bettensor/storage/validator_store.hpp"

namespace bettensor::storage {
namespace {

// "<prefix><n>" built by appending: GCC 12 at -O3 reports a false -Wrestrict on
// `"literal" + std::to_string(n)` and on string assignments it inlines (GCC bugs 105329, 105651).
std::string numbered(std::string_view prefix, long long n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "bettensor-store-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  validator_store::options opts() const { return at(dir_ / "validator.db"); }
  static validator_store::options at(std::filesystem::path path) {
    validator_store::options o;
    o.url = db_url::sqlite(std::move(path));
    o.daily_wager_limit = 1000.0;
    return o;
  }

  // Designated initializers, not assignments: see numbered() for the GCC 12 -Wrestrict bug.
  static protocol::team_game_prediction prediction(std::string id, double wager) {
    return {.prediction_id = std::move(id), .game_id = "g-1", .miner_uid = "7", .wager = wager};
  }

  // Submits and waits for the verdict.
  static verdict decide(validator_store& s, const std::string& hotkey,
                        protocol::team_game_prediction p, prediction_rules rules = {},
                        protocol::timestamp when = protocol::now_utc()) {
    std::promise<verdict> done;
    auto f = done.get_future();
    s.submit(hotkey, std::move(p), when, std::move(rules), [&](verdict v) { done.set_value(v); });
    return f.get();
  }

  fs::path dir_;
};

TEST_F(StoreTest, AcceptsAndStoresOnce) {
  validator_store s(opts());
  const verdict v = decide(s, "alice", prediction("p1", 10));
  EXPECT_TRUE(v.accepted());
  EXPECT_EQ(v.message, "");
  EXPECT_FALSE(v.duplicate);
  const verdict again = decide(s, "alice", prediction("p1", 10));
  EXPECT_TRUE(again.accepted());
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(s.prediction_rows("p1"), 1u);
  EXPECT_EQ(s.daily_total("alice", protocol::now_utc()), 10.0);
}

TEST_F(StoreTest, DuplicateGetsTheOriginalRejection) {
  validator_store s(opts());
  const auto reject =
      [](const protocol::team_game_prediction&) -> std::optional<protocol::rejection> {
    return protocol::rejection::game_not_found;
  };
  EXPECT_EQ(decide(s, "alice", prediction("p1", 10), reject).message, "Game not found");
  const verdict again = decide(s, "alice", prediction("p1", 10));  // rules would now accept
  EXPECT_FALSE(again.accepted());
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.message, "Game not found");
  EXPECT_EQ(again.rejected, protocol::rejection::game_not_found);  // read back from its text
  EXPECT_EQ(s.daily_total("alice", protocol::now_utc()), 0.0);
}

TEST_F(StoreTest, DailyLimitPerHotkeyAndUtcDay) {
  validator_store s(opts());
  const auto day1 = *protocol::parse_timestamp("2026-11-29T23:59:00Z");
  const auto day2 = *protocol::parse_timestamp("2026-11-30T00:01:00Z");
  EXPECT_TRUE(decide(s, "alice", prediction("a", 600), {}, day1).accepted());
  EXPECT_TRUE(decide(s, "alice", prediction("b", 400), {}, day1).accepted());  // exactly 1000
  const verdict over = decide(s, "alice", prediction("c", 0.5), {}, day1);
  EXPECT_FALSE(over.accepted());
  EXPECT_EQ(over.message, "Prediction would exceed daily wager limit");
  EXPECT_EQ(over.rejected, protocol::rejection::daily_limit);
  EXPECT_TRUE(decide(s, "bob", prediction("d", 500), {}, day1).accepted());    // other miner
  EXPECT_TRUE(decide(s, "alice", prediction("e", 500), {}, day2).accepted());  // next UTC day
  EXPECT_EQ(s.daily_total("alice", day1), 1000.0);
  EXPECT_EQ(s.daily_total("alice", day2), 500.0);
}

TEST_F(StoreTest, RestartKeepsPredictionsTotalsAndGames) {
  const auto now = protocol::now_utc();
  {
    validator_store s(opts());
    EXPECT_TRUE(decide(s, "alice", prediction("p1", 700), {}, now).accepted());
    protocol::team_game g;
    g.game_id = "g-1";
    g.team_a = "A";
    g.team_b = "B";
    g.tie_odds = 3.25;
    s.save_games({g}, {});
  }
  validator_store s(opts());
  EXPECT_EQ(s.accepted_count(), 1u);
  EXPECT_EQ(s.daily_total("alice", now), 700.0);
  EXPECT_TRUE(decide(s, "alice", prediction("p1", 700), {}, now).duplicate);
  EXPECT_EQ(decide(s, "alice", prediction("p2", 301), {}, now).message,
            "Prediction would exceed daily wager limit");
  const auto games = s.load_games();
  ASSERT_EQ(games.size(), 1u);
  EXPECT_EQ(games[0].tie_odds, 3.25);
}

TEST_F(StoreTest, ConcurrentSubmissionsAreCommittedInGroups) {
  std::vector<std::size_t> batch_sizes;  // written on the storage thread, read after flush()
  validator_store s(opts(), [&batch_sizes](std::size_t n, double seconds) {
    EXPECT_GE(seconds, 0.0);
    batch_sizes.push_back(n);
  });
  constexpr int threads = 4;
  constexpr int per_thread = 250;
  std::atomic<int> accepted{0};
  std::atomic<int> delivered{0};
  // The first verdict's callback holds the storage thread until every other prediction is
  // queued, so what is left after the first batch goes in at most two batches of max_batch
  // (512); 1,001 predictions need at least two.
  std::promise<void> all_queued;
  std::shared_future<void> queued = all_queued.get_future().share();
  s.submit("gate", prediction("gate", 1), protocol::now_utc(), {},
           [queued](verdict) { queued.wait(); });
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        s.submit(numbered("miner-", t), prediction(numbered(std::to_string(t) + "-", i), 1),
                 protocol::now_utc(), {}, [&](verdict v) {
                   accepted += v.accepted() ? 1 : 0;
                   ++delivered;
                 });
      }
    });
  }
  for (auto& th : pool) th.join();
  all_queued.set_value();
  s.flush();
  EXPECT_EQ(delivered.load(), threads * per_thread);
  EXPECT_EQ(accepted.load(), threads * per_thread);
  EXPECT_EQ(s.accepted_count(), static_cast<std::size_t>(threads * per_thread + 1));
  EXPECT_GE(s.batches_committed(), 2u);
  EXPECT_LE(s.batches_committed(), 3u);
  // Every commit was reported with its size.
  ASSERT_EQ(batch_sizes.size(), s.batches_committed());
  EXPECT_EQ(std::accumulate(batch_sizes.begin(), batch_sizes.end(), std::size_t{0}),
            static_cast<std::size_t>(threads * per_thread + 1));
  for (const auto n : batch_sizes) EXPECT_LE(n, 512u);
}

TEST_F(StoreTest, CorruptFileStopsTheStart) {
  std::ofstream(dir_ / "validator.db") << std::string(8192, 'x');
  try {
    validator_store s(opts());
    FAIL() << "opened a corrupt database";
  } catch (const storage_error& e) {
    EXPECT_NE(std::string(e.what()).find("validator.db"), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, UnwritableLocationStopsTheStart) {
  EXPECT_THROW(validator_store(at(dir_ / "missing-dir" / "validator.db")), storage_error);
  fs::create_directory(dir_ / "a-directory");
  EXPECT_THROW(validator_store(at(dir_ / "a-directory")), storage_error);
}

}  // namespace
}  // namespace bettensor::storage
