#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "bettensor/crypto/sr25519.hpp"
#include "bettensor/crypto/ss58.hpp"
#include "bettensor/miner/miner_service.hpp"
#include "bettensor/protocol/timestamp.hpp"
#include "prediction_request.hpp"
#include "strategy.hpp"
#include "validator_directory.hpp"

using namespace bettensor;
using namespace bettensor::miner;

namespace {

std::string some_ss58() {
  return crypto::ss58_encode(crypto::keypair::generate().public_key_bytes());
}

protocol::team_game game() {
  protocol::team_game g;
  g.game_id = "g1";
  g.team_a = "Lions";
  g.team_b = "Tigers";
  g.sport = "football";
  g.league = "NFL";
  g.create_date = "2026-11-01T00:00:00+00:00";
  g.last_update_date = "2026-11-01T00:00:00+00:00";
  g.event_start_date = protocol::format_timestamp(protocol::now_utc() + std::chrono::hours(2));
  g.team_a_odds = 1.8;
  g.team_b_odds = 2.2;
  g.tie_odds = 3.1;
  g.can_tie = true;
  return g;
}

detail::game_lookup only(const protocol::team_game& g) {
  return [g](const std::string& id) -> std::optional<protocol::team_game> {
    if (id == g.game_id) return g;
    return std::nullopt;
  };
}

}  // namespace

TEST(ValidatorAddress, ParsesHostPortPathAndHotkey) {
  const auto key = some_ss58();
  auto v = parse_validator_address("ws://127.0.0.1:10401@" + key);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->host, "127.0.0.1");
  EXPECT_EQ(v->port, 10401);
  EXPECT_EQ(v->path, "/ws");
  EXPECT_EQ(v->hotkey, key);
  EXPECT_EQ(to_string(*v), "ws://127.0.0.1:10401/ws@" + key);

  auto v6 = parse_validator_address("ws://[::1]:9000/custom@" + key);
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9000);
  EXPECT_EQ(v6->path, "/custom");
  EXPECT_EQ(to_string(*v6), "ws://[::1]:9000/custom@" + key);

  EXPECT_FALSE(v6->tls);

  auto secure = parse_validator_address("wss://validator.example:443@" + key);
  ASSERT_TRUE(secure) << secure.error().message;
  EXPECT_TRUE(secure->tls);
  EXPECT_EQ(secure->host, "validator.example");
  EXPECT_EQ(secure->port, 443);
  EXPECT_EQ(to_string(*secure), "wss://validator.example:443/ws@" + key);
}

TEST(ValidatorAddress, RefusesEachMalformedPartWithItsReason) {
  const auto key = some_ss58();
  const std::pair<std::string, std::string> cases[] = {
      {"http://h:1@" + key, "must start with ws:// or wss://"},
      {"wss:/h:1@" + key, "must start with ws:// or wss://"},
      {"ws://h:1", "missing @hotkey"},
      {"ws://h:1@", "missing @hotkey"},
      {"ws://h:1@notakey", "not an SS58 address"},
      {"ws://h@" + key, "missing :PORT"},
      {"ws://:1@" + key, "missing host"},
      {"ws://h:0@" + key, "bad port"},
      {"ws://h:70000@" + key, "bad port"},
      {"ws://h:12x@" + key, "bad port"},
      {"ws://[::1@" + key, "bad IPv6 host"},
  };
  for (const auto& [text, why] : cases) {
    auto v = parse_validator_address(text);
    ASSERT_FALSE(v) << text;
    EXPECT_NE(v.error().message.find(why), std::string::npos) << text << ": " << v.error().message;
  }
}

TEST(Strategy, KnowsTheThreeNames) {
  EXPECT_EQ(parse_strategy("favorite").value(), strategy::favorite);
  EXPECT_EQ(parse_strategy("underdog").value(), strategy::underdog);
  EXPECT_EQ(parse_strategy("none").value(), strategy::none);
  auto bad = parse_strategy("random");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("unknown strategy 'random'"), std::string::npos);
}

TEST(PredictionId, IsAFreshUuid4) {
  const std::regex uuid4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto id = make_prediction_id();
    EXPECT_TRUE(std::regex_match(id, uuid4)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(CompletePrediction, FillsWhatTheModelLeftOutFromTheGame) {
  const auto g = game();
  auto p = detail::complete_prediction(R"({"game_id":"g1","predicted_outcome":"Tigers"})", only(g),
                                       {"7", 25.0, "my-model"});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->game_id, "g1");
  EXPECT_EQ(p->miner_uid, "7");
  EXPECT_EQ(p->team_a, "Lions");
  EXPECT_EQ(p->team_b, "Tigers");
  EXPECT_DOUBLE_EQ(p->predicted_odds, 2.2);
  EXPECT_DOUBLE_EQ(p->team_a_odds, 1.8);
  EXPECT_DOUBLE_EQ(p->team_b_odds, 2.2);
  ASSERT_TRUE(p->tie_odds);
  EXPECT_DOUBLE_EQ(*p->tie_odds, 3.1);
  EXPECT_DOUBLE_EQ(p->wager, 25.0);
  EXPECT_EQ(p->model_name.value_or(""), "my-model");
  EXPECT_EQ(p->outcome, "Unfinished");
  EXPECT_EQ(p->prediction_id.size(), 36u);
  EXPECT_TRUE(protocol::parse_timestamp(p->prediction_date));

  auto tie = detail::complete_prediction(R"({"game_id":"g1","predicted_outcome":2})", only(g),
                                         {"7", 1.0, "m"});
  ASSERT_TRUE(tie) << tie.error().message;
  EXPECT_DOUBLE_EQ(tie->predicted_odds, 3.1);
}

TEST(CompletePrediction, KeepsWhatTheModelGave) {
  auto p = detail::complete_prediction(
      R"({"game_id":"g1","predicted_outcome":"Lions","prediction_id":"mine","wager":3.5,)"
      R"("team_a_odds":1.5,"confidence_score":0.9})",
      only(game()), {"7", 25.0, "m"});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->prediction_id, "mine");
  EXPECT_DOUBLE_EQ(p->wager, 3.5);
  EXPECT_DOUBLE_EQ(p->team_a_odds, 1.5);  // the validator's rules will refuse it, not this step
  EXPECT_DOUBLE_EQ(p->confidence_score.value_or(0), 0.9);
}

TEST(CompletePrediction, RefusesMalformedBodiesAndUnknownGames) {
  const auto g = game();
  const std::pair<std::string, std::string> cases[] = {
      {"not json", "Invalid message format"},
      {"[1,2]", "Invalid message format: the body must be a JSON object"},
      {R"({"predicted_outcome":"Lions"})", "Invalid message format: missing field 'game_id'"},
      {R"({"game_id":5,"predicted_outcome":"Lions"})",
       "Invalid message format: field 'game_id' must be a string"},
      {R"({"game_id":"g1"})", "Invalid message format: missing field 'predicted_outcome'"},
      {R"({"game_id":"nope","predicted_outcome":"Lions"})", "Game not found"},
      {R"({"game_id":"g1","predicted_outcome":"Lions","wager":"lots"})", "Invalid message format"},
  };
  for (const auto& [body, text] : cases) {
    auto p = detail::complete_prediction(body, only(g), {"7", 1.0, "m"});
    ASSERT_FALSE(p) << body;
    EXPECT_TRUE(p.error().message.starts_with(text)) << body << ": " << p.error().message;
  }
}

namespace {

const detail::prediction_defaults defaults{"7", 10.0, "m"};

TEST(StrategyChoice, FavoriteAndUnderdogFromTheOddsAlone) {
  const auto now = protocol::now_utc();
  const auto fav = detail::choose(strategy::favorite, game(), now, defaults);
  ASSERT_TRUE(fav);
  EXPECT_EQ(fav->predicted_outcome, "Lions");
  EXPECT_EQ(fav->predicted_odds, 1.8);
  EXPECT_DOUBLE_EQ(fav->confidence_score.value_or(0), 1.0 / 1.8);
  EXPECT_EQ(fav->miner_uid, "7");
  EXPECT_EQ(fav->wager, 10.0);
  EXPECT_EQ(fav->model_name, "m");
  EXPECT_EQ(fav->prediction_date, protocol::format_timestamp(now));
  const auto dog = detail::choose(strategy::underdog, game(), now, defaults);
  ASSERT_TRUE(dog);
  EXPECT_EQ(dog->predicted_outcome, "Tigers");
  EXPECT_FALSE(detail::choose(strategy::none, game(), now, defaults));
}

TEST(StrategyChoice, NothingOnStartedFinishedOrInactiveGames) {
  const auto now = protocol::now_utc();
  auto g = game();
  EXPECT_FALSE(detail::choose(strategy::favorite, g, now + std::chrono::hours(3), defaults));
  g.outcome = "TeamAWin";
  EXPECT_FALSE(detail::choose(strategy::favorite, g, now, defaults));
  g = game();
  g.active = false;
  EXPECT_FALSE(detail::choose(strategy::favorite, g, now, defaults));
  g = game();
  g.event_start_date = "not a time";
  EXPECT_FALSE(detail::choose(strategy::favorite, g, now, defaults));
}

TEST(ValidatorDirectory, FlagsWinThenPermittedReachableValidators) {
  const auto dir = std::filesystem::temp_directory_path() / ("bettensor-dir-" + some_ss58());
  std::filesystem::create_directories(dir);
  const std::string own = some_ss58();
  const std::string a = some_ss58();
  const std::string b = some_ss58();
  const std::string c = some_ss58();
  const auto neuron = [](std::int64_t uid, const std::string& hk, bool permit, const char* ip,
                         int port) {
    return boost::json::object{{"uid", uid},
                               {"hotkey", hk},
                               {"validator_permit", permit},
                               {"stake", 1.0},
                               {"axon", {{"ip", ip}, {"port", port}}}};
  };
  std::ofstream(dir / "metagraph.json") << boost::json::serialize(boost::json::object{
      {"netuid", 30},
      {"block", 1},
      {"neurons", boost::json::array{neuron(0, a, true, "10.0.0.1", 9000),
                                     neuron(1, b, true, "0.0.0.0", 9000),  // no axon
                                     neuron(2, c, false, "10.0.0.3", 9000),
                                     neuron(3, own, true, "10.0.0.4", 9000)}}});
  miner_options opts;
  opts.metagraph_file = dir / "metagraph.json";
  opts.metagraph_ws_port = 10401;
  opts.validators.push_back(validator_endpoint{"127.0.0.1", 1, "/ws", a, false});
  detail::validator_directory d(opts, own);
  const auto wanted = d.wanted();
  ASSERT_EQ(wanted.size(), 1U);               // b has no axon, c no permit, own is the miner itself
  EXPECT_EQ(wanted.at(a).host, "127.0.0.1");  // the flag's entry wins
  EXPECT_EQ(d.own_uid(), 3);
  EXPECT_FALSE(d.refresh(false));  // unchanged file
  EXPECT_TRUE(d.refresh(true));
  std::filesystem::remove_all(dir);
}

}  // namespace
