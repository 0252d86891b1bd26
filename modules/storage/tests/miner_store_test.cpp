#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "bettensor/storage/miner_store.hpp"

namespace bettensor::storage {
namespace {

namespace fs = std::filesystem;

class MinerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "bettensor-miner-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path db() const { return dir_ / "miner.db"; }

  // Built by designated initializers rather than assignments into a default-constructed value:
  // GCC 12 at -O3 reports a false -Wrestrict on an inlined string assignment (GCC bug 105651).
  static protocol::team_game game(const std::string& id, const std::string& updated, double odds) {
    return {.game_id = id,
            .team_a = "A",
            .team_b = "B",
            .last_update_date = updated,
            .event_start_date = "2026-12-01T10:00:00+00:00",
            .team_a_odds = odds,
            .team_b_odds = 2.0};
  }

  static protocol::team_game_prediction prediction(const std::string& id,
                                                   const std::string& game_id) {
    return {.prediction_id = id, .game_id = game_id, .miner_uid = "7", .wager = 5};
  }

  fs::path dir_;
};

TEST_F(MinerStoreTest, LatestGameUpdateWins) {
  miner_store s(db());
  EXPECT_TRUE(s.upsert_game(game("g", "2026-11-29T10:00:00+00:00", 1.5)));
  EXPECT_TRUE(s.upsert_game(game("g", "2026-11-29T11:00:00+00:00", 1.6)));
  // Older, even if written with another offset that sorts later as text, is ignored.
  EXPECT_FALSE(s.upsert_game(game("g", "2026-11-29T11:30:00+02:00", 1.7)));
  EXPECT_FALSE(s.upsert_game(game("g", "2026-11-29T11:00:00+00:00", 1.8)));  // equal: keep
  EXPECT_FALSE(s.upsert_game(game("g", "not a date", 1.9)));
  ASSERT_TRUE(s.game("g"));
  EXPECT_EQ(s.game("g")->team_a_odds, 1.6);
  EXPECT_EQ(s.games().size(), 1u);
}

TEST_F(MinerStoreTest, OutboxIsPerValidatorAndAnswersAreFinal) {
  miner_store s(db());
  EXPECT_TRUE(s.add_prediction(prediction("p1", "g1")));
  EXPECT_TRUE(s.add_prediction(prediction("p2", "g2")));
  EXPECT_FALSE(s.add_prediction(prediction("p1", "g1")));  // stored once
  EXPECT_TRUE(s.has_prediction_for_game("g1"));
  EXPECT_FALSE(s.has_prediction_for_game("g3"));
  EXPECT_EQ(s.pending_for("v1").size(), 2u);
  s.record_answer("v1", "p1", true, "");
  s.record_answer("v1", "p2", false, "Game has already started");
  s.record_answer("v1", "p2", true, "");  // the first answer is final
  EXPECT_TRUE(s.pending_for("v1").empty());
  ASSERT_EQ(s.pending_for("v2").size(), 2u);
  EXPECT_EQ(s.pending_for("v2")[0].prediction_id, "p1");  // oldest first
  const auto a = s.answer("v1", "p2");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->first);
  EXPECT_EQ(a->second, "Game has already started");
}

TEST_F(MinerStoreTest, RestartKeepsTheOutbox) {
  {
    miner_store s(db());
    s.add_prediction(prediction("p1", "g1"));
    s.add_prediction(prediction("p2", "g1"));
    s.record_answer("v1", "p1", true, "");
  }
  miner_store s(db());
  const auto pending = s.pending_for("v1");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].prediction_id, "p2");
  EXPECT_EQ(pending[0].wager, 5.0);
}

TEST_F(MinerStoreTest, CorruptFileIsRefused) {
  std::ofstream(db()) << std::string(8192, 'z');
  EXPECT_THROW(miner_store s(db()), storage_error);
}

}  // namespace
}  // namespace bettensor::storage
