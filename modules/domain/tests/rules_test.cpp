#include <gtest/gtest.h>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/domain/metagraph.hpp"
#include "bettensor/domain/rules.hpp"

namespace bettensor::domain {
namespace {

using namespace std::chrono_literals;

TEST(GameBook, FingerprintIgnoresOrderAndSeesChanges) {
  const auto text = [](double odds) {
    return std::string(
               R"([{"game_id": "b", "team_a": "A", "team_b": "B", "sport": "s", "league": "l",
      "create_date": "2026-11-20T10:00:00+00:00", "last_update_date": "2026-11-20T10:00:00+00:00",
      "event_start_date": "2026-12-01T10:00:00+00:00", "active": true, "outcome": "Unfinished",
      "team_a_odds": )") +
           std::to_string(odds) + R"(, "team_b_odds": 2.0, "tie_odds": null, "can_tie": false},
      {"game_id": "a", "team_a": "C", "team_b": "D", "sport": "s", "league": "l",
      "create_date": "2026-11-20T10:00:00+00:00", "last_update_date": "2026-11-20T10:00:00+00:00",
      "event_start_date": "2026-12-01T10:00:00+00:00", "active": true, "outcome": "Unfinished",
      "team_a_odds": 1.5, "team_b_odds": 2.5, "tie_odds": null, "can_tie": false}])";
  };
  const auto one = game_book::parse(text(1.5));
  const auto same = game_book::parse(text(1.5));
  const auto changed = game_book::parse(text(1.6));
  ASSERT_TRUE(one && same && changed);
  EXPECT_EQ((*one)->fingerprint(), (*same)->fingerprint());
  EXPECT_NE((*one)->fingerprint(), (*changed)->fingerprint());
  EXPECT_EQ((*one)->games().front().game_id, "a");  // sorted by id
  EXPECT_TRUE((*one)->find("b"));
  EXPECT_FALSE((*one)->find("c"));
}

TEST(GameBook, RefusesBadGames) {
  EXPECT_FALSE(game_book::parse("{}"));
  EXPECT_FALSE(game_book::parse(R"([{"game_id": "x"}])"));
  const auto dup = game_book::parse(R"({"games": []})");
  EXPECT_TRUE(dup);
}

TEST(Metagraph, ParsesNeuronsAndRefusesBadHotkeys) {
  const auto kp = crypto::keypair::generate();
  const std::string hk = crypto::ss58_encode(kp.public_key_bytes());
  const auto m = metagraph::parse(
      R"({"netuid": 30, "block": 7, "neurons": [{"uid": 3, "hotkey": ")" + hk +
      R"(", "validator_permit": true, "stake": 1.5, "axon": {"ip": "10.0.0.1", "port": 10401}}]})");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ((*m)->uid_of(hk), 3);
  EXPECT_FALSE((*m)->uid_of("5Other"));
  EXPECT_EQ((*m)->neurons()[0].port, 10401);
  EXPECT_TRUE((*m)->neurons()[0].validator_permit);
  EXPECT_FALSE(metagraph::parse(R"({"neurons": [{"uid": 1, "hotkey": "nope"}]})"));
  EXPECT_FALSE(metagraph::parse(R"({"neurons": {}})"));
}

}  // namespace
}  // namespace bettensor::domain
