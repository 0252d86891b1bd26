#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "miner_fixture.hpp"

namespace bettensor::test {
namespace {

namespace http = boost::beast::http;

std::string answered(const crypto::hotkey& v, const std::string& id) {
  return "answered:" + v.ss58 + ":" + id + ":";
}

std::string api_prediction(const std::string& id, double wager = 1) {
  return boost::json::serialize(boost::json::object{{"game_id", "g-1"},
                                                    {"predicted_outcome", "Kansas City Chiefs"},
                                                    {"prediction_id", id},
                                                    {"wager", wager}});
}

// Polls the miner's GET /status (bounded) until nothing is pending.
bool wait_until_delivered(std::uint16_t api_port, std::size_t expected_predictions) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto r = http_request(api_port, http::verb::get, "/status");
    last = r.body;
    if (r.status == 200) {
      const auto s = boost::json::parse(r.body).as_object();
      if (s.at("pending").to_number<std::size_t>() == 0 &&
          s.at("predictions").to_number<std::size_t>() == expected_predictions)
        return true;
    }
    std::this_thread::sleep_for(20ms);  // polling interval, not synchronisation
  }
  ADD_FAILURE() << "still pending after 30 s: " << last;
  return false;
}

TEST_F(MinerTest, DeliversToThreeValidatorsAndHearsEachUpdateOncePerValidator) {
  start();
  add_validators(2);
  const std::vector<const crypto::hotkey*> validators{&validator_, &extra_[0].key, &extra_[1].key};
  auto& log = new_log();
  auto o = miner_options("three");
  o.metagraph_file = dir_ / "metagraph.json";  // discovery: permitted neurons with an IP
  o.strat = miner::strategy::favorite;
  auto& m = start_miner(miners_[0], o, log);
  ASSERT_TRUE(log.wait_count("connected:", 3));
  // The strategy predicts the two upcoming games; each validator confirms both.
  ASSERT_TRUE(log.wait_count("answered:", 6));
  EXPECT_EQ(log.count("stored:"), 2u);
  for (const auto* v : validators) EXPECT_EQ(log.count("game_update:" + v->ss58 + ":3:"), 1u);

  // Odds move: each validator broadcasts the change once. (A new game would make the
  // strategy race the validators' reloads, so the follow-up prediction is submitted by hand.)
  games_[0].team_a_odds = 1.5;
  games_[0].last_update_date = protocol::format_timestamp(protocol::now_utc());
  write_games(games_);
  service_->reload();
  for (auto& v : extra_) v.service->reload();
  ASSERT_TRUE(log.wait_count("game_update:", 6));
  auto p = prediction(miners_[0], "after-update");
  p.team_a_odds = 1.5;
  p.predicted_odds = 1.5;
  ASSERT_TRUE(submit(m, p));
  ASSERT_TRUE(log.wait_count("answered:", 9));
  for (const auto* v : validators)
    EXPECT_EQ(log.count(answered(*v, "after-update") + "success:WebSocket"), 1u);
  // The confirmation came after any duplicate update would have: each arrived exactly once.
  for (const auto* v : validators) {
    EXPECT_EQ(log.count("game_update:" + v->ss58 + ":"), 2u) << v->ss58;
    EXPECT_EQ(log.count("game_update:" + v->ss58 + ":3:"), 2u) << v->ss58;
    EXPECT_EQ(log.count("answered:" + v->ss58 + ":"), 3u) << v->ss58;
  }
  EXPECT_EQ(log.count("answered:"), 9u);
  const auto s = status(m);
  ASSERT_EQ(s.validators.size(), 3u);
  for (const auto& v : s.validators) {
    EXPECT_TRUE(v.connected);
    EXPECT_EQ(v.pending, 0u);
  }
  EXPECT_EQ(s.predictions, 3u);

  // A validator leaving the metagraph is dropped; the others stay connected.
  write_metagraph_with_ports(1);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (status(m).validators.size() != 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);  // polling interval
  const auto after = status(m);
  ASSERT_EQ(after.validators.size(), 2u);
  for (const auto& v : after.validators) {
    EXPECT_NE(v.endpoint.hotkey, extra_[1].key.ss58);
    EXPECT_TRUE(v.connected);
  }
}

TEST_F(MinerTest, ReconnectsToAKilledValidatorWithGrowingJitteredDelaysAndDeliversThePending) {
  validator_ = make_wallet("validator");
  write_metagraph(miners_);
  const std::vector<std::string> common = [&] {
    auto args = wallet_flags("validator");
    args.insert(args.begin(), BETTENSOR_VALIDATOR_BIN);
    args.push_back("--websocket.address=127.0.0.1");
    args.push_back("--metagraph.file=" + (dir_ / "metagraph.json").string());
    args.push_back("--games.file=" + (dir_ / "games.json").string());
    args.push_back("--db.path=" + (dir_ / "killed.db").string());
    return args;
  }();
  auto first_args = common;
  first_args.push_back("--websocket.port=0");
  auto v = std::make_unique<child_process>(first_args);
  const std::uint16_t port = port_from(*v, "listening on");
  ASSERT_NE(port, 0);

  auto& log = new_log();
  auto o = miner_options("reconnect");
  o.link.reconnect_base = 100ms;
  o.link.reconnect_max = 800ms;
  o.validators = {endpoint(validator_, port)};
  run_io_threads();
  auto& m = start_miner(miners_[0], o, log);
  log.wait_for("connected:");
  log.wait_for("game_update:");
  ASSERT_TRUE(submit(m, prediction(miners_[0], "before-kill")));
  EXPECT_EQ(log.wait_for(answered(validator_, "before-kill")),
            answered(validator_, "before-kill") + "success:WebSocket");

  v->kill(SIGKILL);
  EXPECT_EQ(v->wait(), 128 + SIGKILL);
  log.wait_for("disconnected:");
  // Stored while the validator is down: pending, not lost.
  ASSERT_TRUE(submit(m, prediction(miners_[0], "while-down-1")));
  ASSERT_TRUE(submit(m, prediction(miners_[0], "while-down-2")));
  ASSERT_TRUE(log.wait_count("disconnected:", 5));  // the kill, then failed attempts
  EXPECT_EQ(status(m).validators.at(0).pending, 2u);

  auto again = common;
  again.push_back("--websocket.port=" + std::to_string(port));
  v = std::make_unique<child_process>(again);
  ASSERT_EQ(port_from(*v, "listening on"), port);
  // Confirmations may come in either order (the validator decides a batch at once).
  ASSERT_TRUE(log.wait_count("answered:" + validator_.ss58 + ":while-down-", 2));
  for (const std::string id : {"while-down-1", "while-down-2"})
    EXPECT_EQ(log.count(answered(validator_, id) + "success:WebSocket"), 1u) << id;

  const auto s = status(m).validators.at(0);
  EXPECT_TRUE(s.connected);
  EXPECT_EQ(s.consecutive_failures, 0u);
  EXPECT_EQ(s.pending, 0u);
  // After the kill: the n-th wait is uniform in [0, min(max, base * 2^n)] (n = 0 right after a
  // good connection), so the ceilings grow and the draws differ.
  ASSERT_GE(s.reconnect_delays.size(), 4u);
  std::set<std::int64_t> distinct;
  for (std::size_t n = 0; n < s.reconnect_delays.size(); ++n) {
    const auto ceiling =
        std::min<std::chrono::milliseconds>(800ms, 100ms * (1 << std::min<std::size_t>(n, 10)));
    EXPECT_LE(s.reconnect_delays[n], ceiling) << "delay " << n;
    distinct.insert(s.reconnect_delays[n].count());
  }
  EXPECT_GT(distinct.size(), 1u) << "delays are not jittered";

  stop_miner(m);
  v->kill(SIGTERM);
  EXPECT_EQ(v->wait(), 0) << v->output();
  for (const std::string id : {"before-kill", "while-down-1", "while-down-2"})
    EXPECT_EQ(stored_rows(dir_ / "killed.db", id), 1u) << id;
}

TEST_F(MinerTest, KeepsRunningAndBacksOffWhileAValidatorRefusesIt) {
  start();
  const auto stranger = make_hotkey();
  auto& log = new_log();
  auto o = miner_options("refused");
  o.validators = {endpoint(validator_, port_)};
  o.api_port = 0;
  auto& m = start_miner(stranger, o, log);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(log.wait_for("refused:"),
              "refused:" + validator_.ss58 + ":Not authorized: hotkey not registered");
  const auto s = status(m).validators.at(0);
  EXPECT_FALSE(s.connected);
  EXPECT_GE(s.consecutive_failures, 2u);
  ASSERT_GE(s.reconnect_delays.size(), 2u);
  for (std::size_t n = 0; n < s.reconnect_delays.size(); ++n)
    EXPECT_LE(s.reconnect_delays[n], std::min<std::chrono::milliseconds>(
                                         400ms, 50ms * (1 << std::min<std::size_t>(n + 1, 10))));
  // Still serving its local API.
  const auto r = http_request(m.api_port(), http::verb::get, "/status");
  EXPECT_EQ(r.status, 200u) << r.body;
  // Registered now: the next attempt gets in.
  miners_.push_back(stranger);
  write_metagraph(miners_);
  service_->reload();
  EXPECT_EQ(log.wait_for("connected:"), "connected:" + validator_.ss58 + ":5");
}

// A validator speaking as the reference Python one does: its welcome has no uid, its game
// update and confirmations carry keys we do not use. The miner takes its uid from the
// metagraph and delivers; each prediction is confirmed.
TEST_F(MinerTest, DeliversToAValidatorWhoseWelcomeHasNoUid) {
  std::promise<std::vector<std::string>> confirmed;
  scripted_validator fake([&](scripted_validator::stream& ws) {
    const auto send = [&ws](const std::string& text) { scripted_validator::send(ws, text); };
    const auto welcome = protocol::to_json(protocol::welcome{});  // no uid, as the reference
    ASSERT_FALSE(welcome.as_object().contains("uid"));
    send(frame(validator_, protocol::message_type::welcome, welcome));
    auto update = protocol::to_json(
        protocol::game_update{{games_[0]}, protocol::format_timestamp(protocol::now_utc())});
    update.as_object()["games"].as_array()[0].as_object()["external_id"] = 1234;
    send(frame(validator_, protocol::message_type::game_update, update));
    std::vector<std::string> ids;
    boost::beast::flat_buffer buf;
    while (ids.size() < 2) {
      buf.clear();
      ws.read(buf);
      const auto e = protocol::parse_json(boost::beast::buffers_to_string(buf.data()));
      if (!e || e->at("type").as_string() != protocol::message_type::prediction) continue;
      const std::string id(e->at("data").at("prediction_id").as_string());
      auto data = protocol::to_json(
          protocol::confirmation{id, "success", "Prediction confirmed",
                                 protocol::format_timestamp(protocol::now_utc()), std::nullopt});
      data.as_object()["extra"] = "ignored";
      send(frame(validator_, protocol::message_type::confirmation, data));
      ids.push_back(id);
    }
    confirmed.set_value(ids);
  });
  const auto fake_port = fake.port();

  auto& log = new_log();
  auto o = miner_options("no-uid");
  o.validators = {endpoint(validator_, fake_port)};
  o.metagraph_file = dir_ / "metagraph.json";  // lists the miner with its uid
  run_io_threads();
  auto& m = start_miner(miners_[0], o, log);
  EXPECT_EQ(log.wait_for("connected:"),
            "connected:" + validator_.ss58 + ":" + std::to_string(uid_of(miners_[0])));
  EXPECT_EQ(log.wait_for("game_update:"), "game_update:" + validator_.ss58 + ":1:1");
  ASSERT_TRUE(submit(m, prediction(miners_[0], "no-uid-1")));
  ASSERT_TRUE(submit(m, prediction(miners_[0], "no-uid-2")));
  EXPECT_EQ(log.wait_for("answered:"), answered(validator_, "no-uid-1") + "success:WebSocket");
  EXPECT_EQ(log.wait_for("answered:"), answered(validator_, "no-uid-2") + "success:WebSocket");
  auto ids = confirmed.get_future();
  ASSERT_EQ(ids.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(ids.get(), (std::vector<std::string>{"no-uid-1", "no-uid-2"}));
  stop_miner(m);
  running_miners_.clear();
  fake.join();
}

// A validator impostor test double: welcomes properly, then sends a game update signed by
// another key under the validator's name, one from another sender, and one good update.
TEST_F(MinerTest, DropsAndLogsFramesWithABadSignatureOrAWrongSender) {
  auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("capture", ring);
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(logger);

  const auto impostor = make_hotkey();
  auto good_game = games_[0];
  good_game.game_id = "good-game";
  scripted_validator fake([&](scripted_validator::stream& ws) {
    const auto send = [&ws](const std::string& text) { scripted_validator::send(ws, text); };
    send(frame(validator_, protocol::message_type::welcome,
               protocol::to_json(protocol::welcome{"Connection established", "success", 1})));
    auto update = [&](const protocol::team_game& g) {
      return protocol::to_json(
          protocol::game_update{{g}, protocol::format_timestamp(protocol::now_utc())});
    };
    auto forged =
        protocol::sign_envelope(impostor, protocol::message_type::game_update, update(games_[1]));
    forged.sender = validator_.ss58;  // claims to be the validator: signature fails
    send(protocol::serialize(forged));
    send(frame(impostor, protocol::message_type::game_update, update(games_[1])));  // wrong sender
    send(frame(validator_, protocol::message_type::game_update, update(good_game)));
  });
  const auto fake_port = fake.port();

  auto& log = new_log();
  auto o = miner_options("impostor");
  o.validators = {endpoint(validator_, fake_port)};
  run_io_threads();
  auto& m = start_miner(miners_[0], o, log);
  EXPECT_EQ(log.wait_for("game_update:"), "game_update:" + validator_.ss58 + ":1:1");
  const auto s = status(m);
  EXPECT_EQ(s.games, 1u);  // only the good game was kept
  EXPECT_EQ(log.count("game_update:"), 1u);
  stop_miner(m);
  running_miners_.clear();
  fake.join();
  spdlog::set_default_logger(previous);

  std::size_t bad_signature = 0, wrong_sender = 0;
  for (const auto& line : ring->last_formatted()) {
    if (line.find("Dropped a frame from validator") == std::string::npos) continue;
    bad_signature += line.find("invalid signature") != std::string::npos ? 1 : 0;
    wrong_sender += line.find("sender") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(bad_signature, 1u);
  EXPECT_EQ(wrong_sender, 1u);
}

TEST_F(MinerTest, AMinerKilledBetweenStoreAndSendLosesNothingAndCountsNothingTwice) {
  start();
  miners_[0] = make_wallet("miner");
  write_metagraph(miners_);
  service_->reload();
  std::vector<std::string> args = wallet_flags("miner");
  args.insert(args.begin(), BETTENSOR_MINER_BIN);
  for (const std::string& a :
       {"--validator=ws://127.0.0.1:" + std::to_string(port_) + "@" + validator_.ss58,
        "--db.path=" + (dir_ / "miner.db").string(), std::string("--api.port=0"),
        std::string("--strategy=none"), std::string("--websocket_reconnect_base_interval=0.05"),
        std::string("--websocket_max_reconnect_interval=0.3"),
        std::string("--http_fallback=false")})
    args.push_back(a);

  // Killed while predictions are flowing: some stored but unsent, some sent but unanswered.
  auto miner = std::make_unique<child_process>(args);
  auto api = port_from(*miner, "Miner API listening on");
  ASSERT_TRUE(miner->wait_for_line(std::regex("Received game update"), 20s)) << miner->output();
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back("flowing-" + std::to_string(i));
    const auto r = http_request(api, http::verb::post, "/predictions", api_prediction(ids.back()));
    ASSERT_EQ(r.status, 202u) << r.body;
  }
  miner->kill(SIGKILL);
  EXPECT_EQ(miner->wait(), 128 + SIGKILL);

  // Killed after storing with no validator to send to.
  stop_validator_only();
  miner = std::make_unique<child_process>(args);
  api = port_from(*miner, "Miner API listening on");
  for (int i = 0; i < 5; ++i) {
    ids.push_back("offline-" + std::to_string(i));
    const auto r = http_request(api, http::verb::post, "/predictions", api_prediction(ids.back()));
    ASSERT_EQ(r.status, 202u) << r.body;
  }
  miner->kill(SIGKILL);
  EXPECT_EQ(miner->wait(), 128 + SIGKILL);

  restart_validator_only();
  miner = std::make_unique<child_process>(args);
  api = port_from(*miner, "Miner API listening on");
  EXPECT_TRUE(wait_until_delivered(api, ids.size())) << miner->output();
  miner->kill(SIGTERM);
  EXPECT_EQ(miner->wait(), 0) << miner->output();
  stop_validator_only();
  for (const auto& id : ids) EXPECT_EQ(stored_rows(opts_.db.path, id), 1u) << id;
  storage::validator_store store({opts_.db});
  EXPECT_EQ(store.accepted_count(), ids.size());
}

TEST_F(MinerTest, FallsBackToHttpWhenTheWebSocketPathIsBlocked) {
  start();
  auto& log = new_log();
  auto o = miner_options("fallback");
  o.validators = {endpoint(validator_, port_)};
  o.http_fallback_grace = 300ms;
  auto& m = start_miner(miners_[0], o, log);
  log.wait_for("game_update:");
  // Same port, HTTP still served, WebSocket upgrades refused.
  stop_validator_only();
  opts_.server.websocket_enabled = false;
  restart_validator_only();
  std::vector<std::string> ids{"http-1", "http-2", "http-3"};
  for (const auto& id : ids) ASSERT_TRUE(submit(m, prediction(miners_[0], id)));
  ASSERT_TRUE(log.wait_count("answered:" + validator_.ss58 + ":http-", ids.size()));
  for (const auto& id : ids)
    EXPECT_EQ(log.count(answered(validator_, id) + "success:HTTP"), 1u) << id;
  EXPECT_EQ(status(m).validators.at(0).pending, 0u);
  EXPECT_FALSE(status(m).validators.at(0).connected);
  stop_miner(m);
  running_miners_.clear();
  stop_validator_only();
  for (const auto& id : ids) EXPECT_EQ(stored_rows(opts_.db.path, id), 1u) << id;
}

// The miner's page (GET /) and the state it shows (GET /ui/state): upcoming games only, each
// prediction with every validator's answer, and the validators; assets from the binary.
TEST_F(MinerTest, ThePageShowsUpcomingGamesAndEachValidatorsVerdict) {
  start();
  auto& log = new_log();
  auto o = miner_options("page");
  o.validators = {endpoint(validator_, port_)};
  o.api_port = 0;
  auto& m = start_miner(miners_[0], o, log);
  ASSERT_TRUE(log.wait_count("game_update:", 1));
  const auto api = m.api_port();
  auto ok = http_request(api, http::verb::post, "/predictions", api_prediction("by-hand"));
  ASSERT_EQ(ok.status, 202U) << ok.body;  // stored; the validators answer later
  auto bad = http_request(api, http::verb::post, "/predictions", api_prediction("nothing", 0));
  EXPECT_EQ(bad.status, 400U) << bad.body;
  ASSERT_TRUE(log.wait_count("answered:", 1));
  const auto r = http_request(api, http::verb::get, "/ui/state");
  ASSERT_EQ(r.status, 200U) << r.body;
  EXPECT_EQ(r.header("cache-control"), "no-store");
  const auto s = boost::json::parse(r.body);
  EXPECT_EQ(std::string(s.at("miner").as_string()), miners_[0].ss58);
  std::set<std::string> games;
  for (const auto& g : s.at("games").as_array()) games.emplace(g.at("game_id").as_string());
  EXPECT_EQ(games, (std::set<std::string>{"g-1", "g-2"}));  // not the started g-started
  ASSERT_EQ(s.at("validators").as_array().size(), 1U);
  EXPECT_EQ(s.at("validators").at(0).at("connected"), true);
  ASSERT_EQ(s.at("predictions").as_array().size(), 1U);
  const auto& p = s.at("predictions").at(0);
  EXPECT_EQ(p.at("prediction_id"), "by-hand");
  ASSERT_EQ(p.at("answers").as_array().size(), 1U);
  EXPECT_EQ(std::string(p.at("answers").at(0).at("validator").as_string()), validator_.ss58);
  EXPECT_EQ(p.at("answers").at(0).at("status"), "confirmed");
  const auto page = http_request(api, http::verb::get, "/");
  EXPECT_EQ(page.status, 200U);
  EXPECT_TRUE(page.header("content-type").starts_with("text/html"));
  EXPECT_NE(page.header("content-security-policy").find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(page.header("x-frame-options"), "DENY");
  EXPECT_NE(page.body.find("/assets/miner.js"), std::string::npos);
  EXPECT_EQ(http_request(api, http::verb::get, "/assets/miner.js").status, 200U);
  EXPECT_EQ(http_request(api, http::verb::get, "/assets/common.js").status, 200U);
  EXPECT_EQ(http_request(api, http::verb::get, "/assets/console.css").status, 200U);
  EXPECT_EQ(http_request(api, http::verb::post, "/ui/state", "{}").status, 405U);

  // Another web page in the miner's browser gets nothing: not from its origin, not under a
  // name it points at 127.0.0.1. The page's own origin, and clients sending none, are served.
  const auto as = [](std::string host, std::string origin) {
    client_extras x;
    x.host = std::move(host);
    x.origin = std::move(origin);
    return x;
  };
  const std::string self = "127.0.0.1:" + std::to_string(api);
  const auto cross = http_request(api, http::verb::post, "/predictions", api_prediction("csrf"), "",
                                  as(self, "http://evil.example"));
  EXPECT_EQ(cross.status, 403U);
  EXPECT_NE(cross.body.find("Cross-origin requests to the miner API are refused"),
            std::string::npos);
  const auto rebound = http_request(api, http::verb::get, "/ui/state", "", "",
                                    as("evil.example:" + std::to_string(api), ""));
  EXPECT_EQ(rebound.status, 403U);
  EXPECT_NE(rebound.body.find("localhost or 127.0.0.1 only"), std::string::npos);
  EXPECT_EQ(http_request(api, http::verb::get, "/", "", "", as("127.evil.example", "")).status,
            403U);
  EXPECT_EQ(
      http_request(api, http::verb::get, "/ui/state", "", "", as(self, "http://" + self)).status,
      200U);
  EXPECT_EQ(http_request(api, http::verb::get, "/status", "", "",
                         as("localhost:" + std::to_string(api), ""))
                .status,
            200U);
  const auto metrics = http_request(api, http::verb::get, "/metrics").body;
  EXPECT_NE(metrics.find(R"(bettensor_miner_api_refusals_total{reason="origin"} 1)"),
            std::string::npos);
  EXPECT_NE(metrics.find(R"(bettensor_miner_api_refusals_total{reason="host"} 2)"),
            std::string::npos);
  EXPECT_EQ(http_request(api, http::verb::get, "/status").status, 200U);
  ASSERT_EQ(status(m).predictions, 1U);  // "csrf" was not stored
}

// Operators see one line naming the flag and exit code 2 for anything wrong at start.
TEST_F(MinerTest, BadFlagsStopTheProgramsWithOneLineNamingTheFlag) {
  const auto key = make_hotkey().ss58;
  const auto wallet = wallet_flags("nobody");
  make_wallet("someone");
  const auto real = wallet_flags("someone");
  const std::vector<bad_start> cases = {
      {{BETTENSOR_MINER_BIN, "--no-such-flag"}, "no-such-flag"},
      {{BETTENSOR_MINER_BIN}, "--validator"},
      {{BETTENSOR_MINER_BIN, "--validator=ws://h:1"}, "--validator"},
      {{BETTENSOR_MINER_BIN, "--validator=ws://127.0.0.1:1@" + key,
        "--websocket_reconnect_base_interval=-1"},
       "--websocket_reconnect_base_interval"},
      {{BETTENSOR_MINER_BIN, "--validator=ws://127.0.0.1:1@" + key,
        "--websocket_reconnect_base_interval=10", "--websocket_max_reconnect_interval=5"},
       "--websocket_max_reconnect_interval"},
      {{BETTENSOR_MINER_BIN, "--validator=ws://127.0.0.1:1@" + key, "--strategy=random"},
       "--strategy"},
      {{BETTENSOR_MINER_BIN, "--validator=ws://127.0.0.1:1@" + key, "--http_fallback_grace=0"},
       "--http_fallback_grace"},
      {{BETTENSOR_MINER_BIN, "--validator=ws://127.0.0.1:1@" + key, wallet[0], wallet[1]},
       "--wallet.hotkey"},
      {{BETTENSOR_MINER_BIN, real[0], real[1],
        "--metagraph.file=" + (dir_ / "missing.json").string()},
       "--metagraph.file: "},
      {{BETTENSOR_MINER_BIN, real[0], real[1], "--validator=ws://127.0.0.1:1@" + key,
        "--db.path=" + dir_.string()},
       "--db.path: "},
      {{BETTENSOR_VALIDATOR_BIN, "--websocket.port=70000"}, "--websocket.port"},
      {{BETTENSOR_VALIDATOR_BIN, "--log.level=loud"}, "--log.level"},
      {{BETTENSOR_DEMO_BIN, "--mode=everything"}, "--mode"},
      {{BETTENSOR_DEMO_BIN, "--mode=miner"}, "--workdir"},
      {{BETTENSOR_DEMO_BIN, "--duration=-3"}, "--duration"},
  };
  expect_usage_errors(cases);
}

}  // namespace
}  // namespace bettensor::test
