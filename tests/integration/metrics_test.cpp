// The validator's GET /metrics after a scripted session: the counts are exactly what happened.
#include <regex>
#include <set>

#include "validator_fixture.hpp"

namespace bettensor::test {
namespace {

namespace http = boost::beast::http;

std::string games_json(const std::vector<protocol::team_game>& games) {
  boost::json::array list;
  for (const auto& g : games) list.push_back(protocol::to_json(g));
  return boost::json::serialize(list);
}

class MetricsTest : public ValidatorTest {
 protected:
  std::string scrape() {
    const auto r = http_request(port_, http::verb::get, "/metrics");
    EXPECT_EQ(r.status, 200u);
    return r.body;
  }

  // The value of one series ("name" or "name{labels}") in the text format; -1 if absent.
  static double value(const std::string& text, const std::string& series) {
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
  }

  // Counters are updated on the connections' strands just after the bytes leave; poll the
  // endpoint (bounded) until the series reaches the value, then compare.
  void expect_series(const std::string& series, double expected) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    double v = -1;
    while (std::chrono::steady_clock::now() < deadline) {
      v = value(scrape(), series);
      if (v == expected) break;
      std::this_thread::sleep_for(10ms);  // polling interval
    }
    EXPECT_EQ(v, expected) << series;
  }
};

TEST_F(MetricsTest, CountsExactlyWhatAScriptedSessionDid) {
  opts_.server.send_queue_frames = 4;
  opts_.server.max_http_body_bytes = 4 * 1024 * 1024;
  opts_.server.close_grace = 60s;
  start();
  const auto baseline = scrape();
  EXPECT_EQ(value(baseline, "bettensor_broadcasts_total"), 1);  // the start-up game set
  EXPECT_EQ(value(baseline, "bettensor_broadcast_recipients_total"), 0);

  // Three miners; N = 5 accepted predictions and M = 2 rejected by named reasons.
  std::vector<std::unique_ptr<ws_client>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(connect(miners_[static_cast<std::size_t>(i)]));
  for (auto& c : clients) next(*c, protocol::message_type::game_update);
  auto& a = *clients[0];
  for (int i = 0; i < 5; ++i) {
    a.send(prediction_frame(miners_[0], prediction(miners_[0], "ok-" + std::to_string(i))));
    EXPECT_EQ(confirm(a).status, "success");
  }
  a.send(prediction_frame(miners_[0], prediction(miners_[0], "no-wager", 0)));
  EXPECT_EQ(confirm(a).message, "Prediction with non-positive wager");
  auto unknown = prediction(miners_[0], "no-game");
  unknown.game_id = "nope";
  a.send(prediction_frame(miners_[0], unknown));
  EXPECT_EQ(confirm(a).message, "Game not found");
  a.send(prediction_frame(miners_[0], prediction(miners_[0], "ok-0")));  // a re-send
  EXPECT_EQ(confirm(a).status, "success");

  // One broadcast to K = 3 miners.
  auto changed = games_;
  changed[0].team_b_odds = 2.9;
  ASSERT_EQ(
      http_request(port_, http::verb::post, "/games", games_json(changed), "Bearer " + admin_token)
          .status,
      200u);
  for (auto& c : clients) next(*c, protocol::message_type::game_update);

  expect_series("bettensor_predictions_accepted_total{channel=\"websocket\"}", 5);
  expect_series("bettensor_predictions_duplicate_total{channel=\"websocket\"}", 1);
  expect_series("bettensor_predictions_rejected_total{reason=\"non_positive_wager\"}", 1);
  expect_series("bettensor_predictions_rejected_total{reason=\"game_not_found\"}", 1);
  expect_series("bettensor_predictions_rejected_total{reason=\"daily_limit\"}", 0);
  expect_series("bettensor_broadcasts_total", 2);
  expect_series("bettensor_broadcast_recipients_total", 3);
  expect_series("bettensor_messages_total{direction=\"in\",type=\"prediction\"}", 8);
  expect_series("bettensor_messages_total{direction=\"out\",type=\"confirmation\"}", 8);
  expect_series("bettensor_messages_total{direction=\"in\",type=\"auth\"}", 3);
  expect_series("bettensor_messages_total{direction=\"out\",type=\"welcome\"}", 3);
  expect_series("bettensor_messages_total{direction=\"out\",type=\"game_update\"}", 6);
  expect_series("bettensor_connections_open", 3);
  expect_series("bettensor_handler_duration_seconds_count{type=\"prediction\"}", 8);

  // A refused handshake, counted by reason.
  ws_client stranger(port_);
  stranger.send(auth_frame(make_hotkey()));
  const auto refusal = stranger.read();  // {"status":"error",...}, then the close
  ASSERT_TRUE(refusal);
  EXPECT_NE(refusal->find("Not authorized: hotkey not registered"), std::string::npos);
  EXPECT_FALSE(stranger.read());
  EXPECT_EQ(stranger.close_reason().reason, "Not authorized: hotkey not registered");
  expect_series("bettensor_auth_failures_total{reason=\"not_registered\"}", 1);
  expect_series("bettensor_connections_closed_total{reason=\"auth_failed\"}", 1);
  expect_series("bettensor_messages_total{direction=\"out\",type=\"refusal\"}", 1);

  // The three leave; then one slow consumer is dropped.
  clients.clear();
  expect_series("bettensor_connections_open", 0);
  expect_series("bettensor_connections_closed_total{reason=\"peer_closed\"}", 3);
  auto slow = connect(miners_[3]);
  std::vector<protocol::team_game> big;
  for (int i = 0; i < 1000; ++i) {
    auto g = games_[0];
    g.game_id = "bulk-" + std::to_string(i);
    big.push_back(g);
  }
  // Posted until the server counts the drop, and never more than 60 (12 MB).
  for (int i = 0; i < 60 && value(scrape(), "bettensor_slow_consumer_drops_total") != 1; ++i) {
    for (auto& g : big) g.team_b_odds = 2.0 + i / 100.0;
    ASSERT_EQ(
        http_request(port_, http::verb::post, "/games", games_json(big), "Bearer " + admin_token)
            .status,
        200u);
  }
  while (slow->read()) {
  }
  EXPECT_EQ(slow->close_reason().reason, "Slow consumer");
  expect_series("bettensor_slow_consumer_drops_total", 1);
  expect_series("bettensor_connections_closed_total{reason=\"slow_consumer\"}", 1);
  expect_series("bettensor_send_queue_frames", 0);
  expect_series("bettensor_connections_opened_total", 5);
  const auto text = scrape();
  EXPECT_GT(value(text, "process_resident_memory_bytes"), 0);
  EXPECT_GT(value(text, "process_open_fds"), 0);
  EXPECT_EQ(text.find("hotkey"), std::string::npos) << "no label may carry a hotkey";
}

// Frames sent back to back are handled together (their signatures verified in one equation
// where the server read them together): each still gets its own verdict, a forged one among
// them is refused alone, and a frame repeated inside the burst is caught as a replay. Only the
// miner that predicts gets verification tables; one that only keeps alive gets none.
TEST_F(MetricsTest, FramesSentBackToBackGetTheirOwnVerdictsAndOneKeyTable) {
  start();
  auto idle = connect(miners_[1]);
  idle->send(frame(miners_[1], protocol::message_type::heartbeat, boost::json::object()));
  next(*idle, protocol::message_type::heartbeat_ack);
  idle->send(frame(miners_[1], protocol::message_type::heartbeat_response, boost::json::object()));
  expect_series("bettensor_verify_key_cache_builds_total", 0);

  const auto& m = miners_[0];
  auto c = connect(m);
  std::vector<std::string> frames;
  for (int i = 0; i < 12; ++i) {
    const std::string id = "burst-" + std::to_string(i);
    if (i == 3 || i == 7) {
      auto forged = protocol::sign_envelope(m, protocol::message_type::prediction,
                                            protocol::to_json(prediction(m, id)));
      forged.data.as_object()["wager"] = 3.0;  // changed after signing
      frames.push_back(protocol::serialize(forged));
    } else if (i == 9) {
      frames.push_back(frames[8]);  // the same frame again: its nonce is used
    } else {
      frames.push_back(prediction_frame(m, prediction(m, id)));
    }
  }
  for (const auto& f : frames) c->send(f);

  std::set<std::string> confirmed;
  int forged_refused = 0;
  int replays_refused = 0;
  for (int answers = 0; answers < 12;) {
    const auto text = c->read();
    ASSERT_TRUE(text) << "connection closed";
    const auto e = open(*text, c.get());
    if (e.type == protocol::message_type::confirmation) {
      const auto conf = protocol::parse_confirmation(e.data);
      ASSERT_TRUE(conf);
      EXPECT_EQ(conf->status, "success") << conf->message;
      confirmed.insert(conf->prediction_id);
      ++answers;
    } else if (e.type == protocol::message_type::error) {
      const auto err = protocol::parse_error_data(e.data);
      ASSERT_TRUE(err);
      if (err->message == "Invalid message format: invalid signature") ++forged_refused;
      if (err->message == "Invalid message format: nonce already used") ++replays_refused;
      ++answers;
    }
  }
  EXPECT_EQ(forged_refused, 2);
  EXPECT_EQ(replays_refused, 1);
  EXPECT_EQ(confirmed.size(), 9u);
  for (const int i : {0, 1, 2, 4, 5, 6, 8, 10, 11})
    EXPECT_TRUE(confirmed.contains("burst-" + std::to_string(i))) << i;
  expect_series("bettensor_verify_key_cache_builds_total", 1);
  expect_series("bettensor_verify_key_cache_keys", 1);
  expect_series("bettensor_invalid_frames_total", 3);
}

}  // namespace
}  // namespace bettensor::test
