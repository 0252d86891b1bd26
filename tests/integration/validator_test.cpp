#include <array>

#include "validator_fixture.hpp"

namespace bettensor::test {
namespace {

TEST_F(ValidatorTest, HappyPathHundredPredictionsConfirmedAndSigned) {
  start();
  const auto& miner = miners_[0];
  auto c = connect(miner);
  for (int i = 0; i < 100; ++i)
    c->send(prediction_frame(miner, prediction(miner, "p-" + std::to_string(i), 1)));
  std::set<std::string> confirmed;
  for (int i = 0; i < 100; ++i) {
    const auto conf = confirm(*c);  // `next` verifies each confirmation's signature
    EXPECT_EQ(conf.status, "success") << conf.message;
    confirmed.insert(conf.prediction_id);
  }
  EXPECT_EQ(confirmed.size(), 100u);
  const auto health = http_request(port_, http::verb::get, "/ws/health");
  EXPECT_EQ(health.status, 200u);
  const auto h = boost::json::parse(health.body);
  EXPECT_EQ(h.at("status"), "online");
  EXPECT_EQ(h.at("active_connections").to_number<std::size_t>(), 1u);
  // The reference's keys, each an integer (uptime in whole seconds).
  const auto& o = h.as_object();
  EXPECT_EQ(o.size(), 4U);
  for (const char* key : {"connections", "active_connections", "uptime"}) {
    ASSERT_TRUE(o.contains(key)) << key;
    EXPECT_TRUE(o.at(key).is_int64() || o.at(key).is_uint64()) << key << ": " << o.at(key);
  }
}

TEST_F(ValidatorTest, SessionsSnapshotListsEachConnection) {
  start();
  const auto& m = miners_[0];
  const auto before = std::chrono::system_clock::now();
  auto c = connect(m);
  c->send(frame(m, protocol::message_type::heartbeat, boost::json::object()));
  next(*c, protocol::message_type::heartbeat_ack);  // the heartbeat was read and answered
  const auto after = std::chrono::system_clock::now();
  const auto sessions = service_->sessions();
  ASSERT_EQ(sessions.size(), 1U);
  const auto& s = sessions[0];
  EXPECT_TRUE(s.authenticated);
  EXPECT_EQ(s.hotkey, m.ss58);
  EXPECT_EQ(s.uid, static_cast<std::int64_t>(uid_of(m)));
  EXPECT_TRUE(s.remote_address.starts_with("127.0.0.1:")) << s.remote_address;
  EXPECT_GE(s.connected_since, before);
  EXPECT_LE(s.connected_since, after);
  EXPECT_GE(s.last_activity, s.connected_since);
  EXPECT_LE(s.last_activity, after + 1s);  // steady and system clocks may differ by a tick
  EXPECT_LE(s.queue_depth, 1U);            // the ack may not have left the queue's books yet
}

TEST_F(ValidatorTest, AuthFailuresAnswerAndCloseWith1008) {
  std::ofstream(dir_ / "blacklist.txt") << "# banned\n" << miners_[1].ss58 << "\n";
  opts_.blacklist_file = dir_ / "blacklist.txt";
  start();
  const auto stranger = make_hotkey();
  auto bad_signature = protocol::make_auth_message(miners_[0]);
  bad_signature["nonce"] = "tampered";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "Invalid message format: invalid JSON"},
      {R"({"hotkey": 1})", "Invalid message format: field 'hotkey' must be a string"},
      {auth_frame(miners_[0], protocol::now_utc() - 301s), "Not authorized: stale timestamp"},
      {protocol::serialize(bad_signature), "Not authorized: invalid signature"},
      {auth_frame(stranger), "Not authorized: hotkey not registered"},
      {auth_frame(miners_[1]), "Not authorized: blacklisted"},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(expected);
    ws_client c(port_);
    c.send(text);
    const auto answer = c.read();
    ASSERT_TRUE(answer);
    const auto v = boost::json::parse(*answer);
    EXPECT_EQ(v.at("status"), "error");
    const std::string message(v.at("message").as_string());
    EXPECT_TRUE(message.starts_with(expected)) << message;
    const auto reason = c.read_until_closed();
    EXPECT_EQ(reason.code, 1008);
    EXPECT_EQ(std::string(reason.reason), message);
  }
}

TEST_F(ValidatorTest, NoFirstFrameInTimeIsClosed) {
  opts_.server.handshake_timeout = 1s;
  start();
  ws_client c(port_);
  const auto reason = c.read_until_closed();
  EXPECT_EQ(reason.code, 1008);
  EXPECT_EQ(std::string(reason.reason), "Authentication timeout");
}

TEST_F(ValidatorTest, EveryPredictionRuleInOrder) {
  start();
  const auto& m = miners_[0];
  auto c = connect(m);
  int n = 0;
  const auto verdict = [&](protocol::team_game_prediction p) {
    p.prediction_id = "rule-" + std::to_string(n++);
    c->send(prediction_frame(m, p));
    return confirm(*c);
  };
  const auto base = prediction(m, "");
  struct rule_case {
    std::string_view expected;
    std::function<void(protocol::team_game_prediction&)> change;
  };
  const std::vector<rule_case> cases = {
      {"Prediction with non-positive wager", [](auto& p) { p.wager = 0; }},
      {"Prediction with non-positive wager", [](auto& p) { p.wager = -5; }},
      {"Game not found", [](auto& p) { p.game_id = "nope"; }},
      {"Game has already started", [](auto& p) { p.game_id = "g-started"; }},
      {"Submitted team names do not match game data", [](auto& p) { p.team_b = "Denver Broncos"; }},
      {"Submitted team odds do not match current game odds", [](auto& p) { p.team_a_odds = 1.47; }},
      {"Submitted tie odds do not match current game odds",
       [](auto& p) { p.tie_odds = 3.0; }},  // game has no tie odds
      {"Invalid predicted_outcome", [](auto& p) { p.predicted_outcome = "Draw"; }},
      {"Predicted odds do not match current game odds", [](auto& p) { p.predicted_odds = 2.8; }},
      {"Confidence score must be between 0 and 1", [](auto& p) { p.confidence_score = 1.5; }},
  };
  for (const auto& rc : cases) {
    auto p = base;
    rc.change(p);
    const auto conf = verdict(p);
    EXPECT_EQ(conf.status, "error");
    EXPECT_EQ(conf.message, rc.expected);
  }
  // Tie odds on a game that has them: missing or different is refused, equal is fine.
  auto soccer = base;
  soccer.game_id = "g-2";
  soccer.team_a = soccer.predicted_outcome = "Arsenal";
  soccer.team_b = "Chelsea";
  soccer.team_a_odds = soccer.predicted_odds = 2.1;
  soccer.team_b_odds = 3.4;
  EXPECT_EQ(verdict(soccer).message, "Submitted tie odds do not match current game odds");
  soccer.tie_odds = 3.25;
  soccer.predicted_outcome = "Tie";
  soccer.predicted_odds = 3.25;
  EXPECT_EQ(verdict(soccer).status, "success");
  // Daily limit is the last rule.
  auto big = base;
  big.wager = 1001;
  EXPECT_EQ(verdict(big).message, "Prediction would exceed daily wager limit");
}

TEST_F(ValidatorTest, BadFramesGetErrorsAndTheConnectionStaysUsable) {
  start();
  const auto& m = miners_[0];
  auto c = connect(m);
  const auto expect_error = [&](const std::string& text, const std::string& expected) {
    c->send(text);
    const auto e = next(*c, protocol::message_type::error);
    const auto data = protocol::parse_error_data(e.data);
    ASSERT_TRUE(data);
    EXPECT_TRUE(data->message.starts_with(expected)) << data->message;
  };
  const std::string hb = frame(m, protocol::message_type::heartbeat, boost::json::object());
  c->send(hb);
  next(*c, protocol::message_type::heartbeat_ack);
  expect_error(hb, "Invalid message format: nonce already used");
  expect_error(frame(miners_[1], protocol::message_type::heartbeat, boost::json::object()),
               "Invalid message format: sender does not match the authenticated hotkey");
  expect_error(frame(m, protocol::message_type::heartbeat, boost::json::object(),
                     protocol::now_utc() - 400s),
               "Invalid message format: stale timestamp");
  auto forged =
      protocol::sign_envelope(m, protocol::message_type::heartbeat, boost::json::object());
  forged.data = boost::json::object{{"x", 1}};
  expect_error(protocol::serialize(forged), "Invalid message format: invalid signature");
  expect_error("{not json", "Invalid message format: invalid JSON");
  expect_error(frame(m, "teleport", boost::json::object()),
               "Invalid message format: unknown message type 'teleport'");
  auto bad_field = prediction(m, "bad-field");
  auto data = protocol::to_json(bad_field);
  data.as_object()["wager"] = "ten";
  expect_error(frame(m, protocol::message_type::prediction, data),
               "Invalid message format: field 'wager' must be a number");
  // Still usable.
  c->send(prediction_frame(m, prediction(m, "after-errors")));
  EXPECT_EQ(confirm(*c).status, "success");
}

TEST_F(ValidatorTest, OversizedFrameClosesTheConnection) {
  opts_.server.max_message_bytes = 4096;
  start();
  auto c = connect(miners_[0]);
  c->send(std::string(5000, 'x'));
  const auto reason = c->read_until_closed();
  EXPECT_EQ(reason.code, 1009);
}

// A client still writing a message far over the limit reads our 1009 close frame: the socket is
// not closed under it (a reset would discard the frame), its bytes are read and dropped first.
TEST_F(ValidatorTest, ClientStillSendingAnOversizedMessageReadsThe1009Close) {
  start();
  auto c = connect(miners_[0]);
  // More than the loopback socket buffers hold: the validator sees the frame's header and
  // answers while most of the message is still on its way.
  c->send(std::string(std::size_t{16} << 20, 'x'));
  const auto reason = c->read_until_closed();
  EXPECT_EQ(reason.code, 1009) << c->error().message();
}

TEST_F(ValidatorTest, TooManyInvalidFramesClose1008) {
  opts_.server.max_invalid_frames = 3;
  start();
  auto c = connect(miners_[0]);
  for (int i = 0; i < 4; ++i) c->send("garbage");
  const auto reason = c->read_until_closed();
  EXPECT_EQ(reason.code, 1008);
  EXPECT_EQ(std::string(reason.reason), "Too many invalid messages");
}

TEST_F(ValidatorTest, RateLimitCloses1008) {
  opts_.server.rate_limit_burst = 5;
  opts_.server.rate_limit_per_second = 0.001;
  start();
  const auto& m = miners_[0];
  auto c = connect(m);
  for (int i = 0; i < 6; ++i)
    c->send(frame(m, protocol::message_type::heartbeat, boost::json::object()));
  const auto reason = c->read_until_closed();
  EXPECT_EQ(reason.code, 1008);
  EXPECT_EQ(std::string(reason.reason), "Rate limit exceeded");
}

TEST_F(ValidatorTest, DuplicatePredictionIsIdempotent) {
  start();
  const auto& m = miners_[0];
  auto c = connect(m);
  const auto p = prediction(m, "dup-1", 100);
  c->send(prediction_frame(m, p));
  EXPECT_EQ(confirm(*c).status, "success");
  c->send(prediction_frame(m, p));  // same prediction, new envelope (new nonce)
  const auto again = confirm(*c);
  EXPECT_EQ(again.status, "success");
  EXPECT_EQ(again.prediction_id, "dup-1");
  // Counted once: 900 more still fit in the daily limit.
  c->send(prediction_frame(m, prediction(m, "dup-2", 900)));
  EXPECT_EQ(confirm(*c).status, "success");
}

TEST_F(ValidatorTest, SecondConnectionReplacesTheFirstAndSharesTheDailyLimit) {
  start();
  const auto& m = miners_[0];
  auto first = connect(m);
  first->send(prediction_frame(m, prediction(m, "a", 600)));
  EXPECT_EQ(confirm(*first).status, "success");
  auto second = connect(m);
  const auto reason = first->read_until_closed();
  EXPECT_EQ(std::string(reason.reason), "Client already connected: replaced by a new connection");
  second->send(prediction_frame(m, prediction(m, "b", 500)));
  EXPECT_EQ(confirm(*second).message, "Prediction would exceed daily wager limit");
  second->send(prediction_frame(m, prediction(m, "c", 400)));
  EXPECT_EQ(confirm(*second).status, "success");
}

TEST_F(ValidatorTest, MaxConnectionsAnswers1013) {
  opts_.server.max_connections = 2;
  start();
  auto a = connect(miners_[0]);
  auto b = connect(miners_[1]);
  ws_client c(port_);
  const auto reason = c.read_until_closed();
  EXPECT_EQ(reason.code, 1013);
  EXPECT_EQ(std::string(reason.reason), "Max connections reached");
}

TEST_F(ValidatorTest, SilentConnectionTimesOut) {
  opts_.server.connection_timeout = 1s;
  start();
  auto c = connect(miners_[0]);
  const auto reason = c->read_until_closed();
  EXPECT_EQ(std::string(reason.reason), "Heartbeat timeout");
}

TEST_F(ValidatorTest, ValidatorSendsHeartbeats) {
  opts_.server.heartbeat_interval = 1s;
  start();
  auto c = connect(miners_[0]);
  const auto hb = next(*c, protocol::message_type::heartbeat);
  EXPECT_TRUE(hb.data.is_object());
}

TEST_F(ValidatorTest, GracefulShutdownCloses1001) {
  start();
  auto c = connect(miners_[0]);
  std::promise<void> stopped;
  service_->stop([&] { stopped.set_value(); });
  const auto reason = c->read_until_closed();
  EXPECT_EQ(reason.code, 1001);
  EXPECT_EQ(std::string(reason.reason), "Server closing connection");
  EXPECT_EQ(stopped.get_future().wait_for(10s), std::future_status::ready);
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  service_.reset();
}

TEST_F(ValidatorTest, RestartKeepsPredictionsAndDailyTotals) {
  start();
  const auto& m = miners_[0];
  {
    auto c = connect(m);
    c->send(prediction_frame(m, prediction(m, "kept", 700)));
    EXPECT_EQ(confirm(*c).status, "success");
  }
  stop();
  start();
  auto c = connect(m);
  c->send(prediction_frame(m, prediction(m, "kept", 700)));
  EXPECT_EQ(confirm(*c).status, "success");  // the original verdict, not a second wager
  c->send(prediction_frame(m, prediction(m, "over", 301)));
  EXPECT_EQ(confirm(*c).message, "Prediction would exceed daily wager limit");
}

TEST_F(ValidatorTest, MetagraphReloadDisconnectsRemovedHotkey) {
  start();
  auto kept = connect(miners_[0]);
  auto removed = connect(miners_[1]);
  write_metagraph({miners_[0]});
  service_->reload();
  const auto reason = removed->read_until_closed();
  EXPECT_EQ(reason.code, 1008);
  EXPECT_EQ(std::string(reason.reason), "Not authorized: hotkey not registered");
  kept->send(prediction_frame(miners_[0], prediction(miners_[0], "still-here")));
  EXPECT_EQ(confirm(*kept).status, "success");
  ws_client again(port_);
  again.send(auth_frame(miners_[1]));
  EXPECT_EQ(std::string(again.read_until_closed().reason), "Not authorized: hotkey not registered");
}

TEST_F(ValidatorTest, HttpFallbackGivesTheSameVerdicts) {
  start();
  const auto& m = miners_[0];
  const auto post = [&](const protocol::team_game_prediction& p) {
    const auto r = http_request(port_, http::verb::post, "/predictions", prediction_frame(m, p));
    EXPECT_EQ(r.status, 200u) << r.body;
    const auto e = open(r.body);
    EXPECT_EQ(e.type, protocol::message_type::confirmation);
    return *protocol::parse_confirmation(e.data);
  };
  EXPECT_EQ(post(prediction(m, "h-1", 600)).status, "success");
  EXPECT_EQ(post(prediction(m, "h-1", 600)).status, "success");  // idempotent
  EXPECT_EQ(post(prediction(m, "h-2", 500)).message, "Prediction would exceed daily wager limit");
  auto started = prediction(m, "h-3");
  started.game_id = "g-started";
  EXPECT_EQ(post(started).message, "Game has already started");
  // The WebSocket path sees the same state.
  auto c = connect(m);
  c->send(prediction_frame(m, prediction(m, "h-1", 600)));
  EXPECT_EQ(confirm(*c).status, "success");

  const auto stranger = make_hotkey();
  const auto refused = http_request(port_, http::verb::post, "/predictions",
                                    prediction_frame(stranger, prediction(stranger, "x")));
  EXPECT_EQ(refused.status, 403u);
  EXPECT_NE(refused.body.find("Not authorized: hotkey not registered"), std::string::npos);
  const auto garbage = http_request(port_, http::verb::post, "/predictions", "nope");
  EXPECT_EQ(garbage.status, 400u);
  EXPECT_NE(garbage.body.find("Invalid message format"), std::string::npos);
  const std::string replay = prediction_frame(m, prediction(m, "h-4"));
  EXPECT_EQ(http_request(port_, http::verb::post, "/predictions", replay).status, 200u);
  const auto replayed = http_request(port_, http::verb::post, "/predictions", replay);
  EXPECT_EQ(replayed.status, 400u);
  EXPECT_NE(replayed.body.find("nonce already used"), std::string::npos);
}

TEST_F(ValidatorTest, HttpErrors) {
  opts_.server.max_http_body_bytes = 1024;
  start();
  EXPECT_EQ(http_request(port_, http::verb::get, "/nowhere").status, 404u);
  EXPECT_EQ(http_request(port_, http::verb::get, "/predictions").status, 405u);
  const auto big = http_request(port_, http::verb::post, "/predictions", std::string(4096, 'x'));
  EXPECT_EQ(big.status, 413u);
  EXPECT_EQ(http_request(port_, http::verb::post, "/games", "[]").status, 401u);
  EXPECT_EQ(http_request(port_, http::verb::post, "/games", "[]", "Bearer wrong-token-wrong-token")
                .status,
            401u);
}

}  // namespace
}  // namespace bettensor::test

namespace bettensor::test {
namespace {

std::string games_body(const std::vector<protocol::team_game>& games) {
  boost::json::array list;
  for (const auto& g : games) list.push_back(protocol::to_json(g));
  return boost::json::serialize(list);
}

// Broadcasts are handed out 32 recipients at a time; successive ones must still reach every
// client exactly once and in the order they were made.
TEST_F(ValidatorTest, BroadcastsReachEveryClientOnceAndInOrder) {
  constexpr std::size_t clients = 200;
  std::vector<crypto::hotkey> many;
  for (std::size_t i = 0; i < clients; ++i) many.push_back(make_hotkey());
  miners_ = many;
  write_metagraph(miners_);
  start();
  std::vector<std::unique_ptr<ws_client>> conns;
  for (const auto& m : miners_) {
    conns.push_back(connect(m));
    next(*conns.back(), protocol::message_type::game_update);  // the current set, sent on connect
  }
  const auto post = [&](const std::vector<protocol::team_game>& g) {
    const auto r =
        http_request(port_, http::verb::post, "/games", games_body(g), "Bearer " + admin_token);
    EXPECT_EQ(r.status, 200u) << r.body;
    return boost::json::parse(r.body);
  };
  const std::array odds = {1.5, 1.6, 1.7};
  for (const double o : odds) {
    auto changed = games_;
    changed[0].team_a_odds = o;
    const auto answer = post(changed);
    EXPECT_EQ(answer.at("changed"), true);
    EXPECT_EQ(answer.at("recipients").to_number<std::size_t>(), clients);
    if (o == odds.back()) {
      EXPECT_EQ(post(changed).at("changed"), false);  // the same set again: not sent
    }
  }
  for (std::size_t i = 0; i < clients; ++i) {
    auto& c = *conns[i];
    for (const double o : odds) {
      const auto text = c.read();
      ASSERT_TRUE(text);
      const auto e = open(*text, &c);
      ASSERT_EQ(e.type, protocol::message_type::game_update);
      const auto u = protocol::parse_game_update(e.data);
      ASSERT_TRUE(u);
      EXPECT_EQ(u->games.front().team_a_odds, o) << "client " << i;
    }
    // A heartbeat round-trip proves nothing else was queued.
    c.send(frame(miners_[i], protocol::message_type::heartbeat, boost::json::object()));
    const auto ack = c.read();
    ASSERT_TRUE(ack);
    EXPECT_EQ(open(*ack, &c).type, protocol::message_type::heartbeat_ack) << "client " << i;
  }
}

TEST_F(ValidatorTest, GamesFileChangeIsBroadcast) {
  opts_.file_poll_interval = 20ms;
  start();
  auto c = connect(miners_[0]);
  const auto initial =
      protocol::parse_game_update(next(*c, protocol::message_type::game_update).data);
  ASSERT_TRUE(initial);
  EXPECT_EQ(initial->games.size(), 3u);
  auto changed = games_;
  changed.pop_back();
  write_games(changed);
  const auto update =
      protocol::parse_game_update(next(*c, protocol::message_type::game_update).data);
  ASSERT_TRUE(update);
  EXPECT_EQ(update->games.size(), 2u);
}

TEST_F(ValidatorTest, AdminEndpointRefusesBadInput) {
  start();
  const std::string auth = "Bearer " + admin_token;
  EXPECT_EQ(http_request(port_, http::verb::post, "/games", "not json", auth).status, 400u);
  EXPECT_EQ(http_request(port_, http::verb::post, "/games", R"([{"game_id": "x"}])", auth).status,
            400u);
  EXPECT_EQ(http_request(port_, http::verb::get, "/games", "", auth).status, 405u);
}

// A miner that reads nothing: its queue fills and it is closed as a slow consumer, while the
// validator keeps serving others.
TEST_F(ValidatorTest, SlowConsumerIsDisconnected) {
  opts_.server.send_queue_frames = 4;
  opts_.server.max_http_body_bytes = 4 * 1024 * 1024;
  opts_.server.close_grace = 60s;  // let the close frame through once the reader catches up
  start();
  auto slow = connect(miners_[0]);
  // Large game sets (about 250 KB each) until the writer blocks and the queue limit is reached:
  // posted until the server counts the drop, and never more than 60 (15 MB, far more than the
  // loopback socket buffers hold).
  std::vector<protocol::team_game> big;
  for (int i = 0; i < 1000; ++i) {
    auto g = games_[0];
    g.game_id = "bulk-" + std::to_string(i);
    big.push_back(g);
  }
  const auto dropped = [&] {
    return http_request(port_, http::verb::get, "/metrics")
               .body.find("\nbettensor_slow_consumer_drops_total 1\n") != std::string::npos;
  };
  int posts = 0;
  while (posts < 60 && !dropped()) {
    for (auto& g : big) g.team_b_odds = 2.0 + posts / 100.0;
    big.back() = games_[0];  // keep g-1 as it is, for the prediction below
    const auto r =
        http_request(port_, http::verb::post, "/games", games_body(big), "Bearer " + admin_token);
    ASSERT_EQ(r.status, 200u);
    ++posts;
  }
  // Now read: some updates, then the close frame; never all of them.
  int updates = 0;
  while (auto text = slow->read()) {
    if (open(*text, slow.get()).type == protocol::message_type::game_update) ++updates;
  }
  EXPECT_LT(updates, posts);
  const auto reason = slow->close_reason();
  EXPECT_EQ(reason.code, 1008);
  EXPECT_EQ(reason.reason, "Slow consumer");
  auto other = connect(miners_[1]);  // still serving
  other->send(prediction_frame(miners_[1], prediction(miners_[1], "after-slow")));
  EXPECT_EQ(confirm(*other).status, "success");
}

}  // namespace
}  // namespace bettensor::test
