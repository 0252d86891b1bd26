#include <gtest/gtest.h>

#include "bettensor/metrics/metrics.hpp"

using namespace bettensor::metrics;

TEST(Classify, ReadsTheTypeFromTheLastKeyOfACanonicalEnvelope) {
  EXPECT_EQ(classify_frame(R"({"data": {"type": "x"}, "nonce": "n", "sender": "s", )"
                           R"("signature": "ab", "timestamp": "t", "type": "confirmation"})"),
            msg_type::confirmation);
  EXPECT_EQ(classify_frame(R"({"status":"error","message":"Not authorized: blacklisted"})"),
            msg_type::refusal);
  EXPECT_EQ(classify_frame(R"({"type": "something_new"})"), msg_type::other);
  EXPECT_EQ(classify_frame("garbage"), msg_type::other);
  EXPECT_EQ(classify("heartbeat_response"), msg_type::heartbeat_response);
  EXPECT_EQ(classify("auth"), msg_type::other);  // not a type a peer can claim
}

TEST(Reasons, MapTheServerTextsToLabels) {
  EXPECT_EQ(reason_of_close("Slow consumer"), close_reason::slow_consumer);
  EXPECT_EQ(reason_of_close("Client already connected: replaced by a new connection"),
            close_reason::replaced);
  EXPECT_EQ(reason_of_close("Not authorized: stale timestamp"), close_reason::auth_failed);
  EXPECT_EQ(reason_of_refusal("Not authorized: hotkey not registered"),
            auth_failure::not_registered);
  EXPECT_EQ(reason_of_refusal("Invalid message format: missing field 'nonce'"),
            auth_failure::invalid_format);
  EXPECT_EQ(reason_of_rejection("Game has already started"), rejection::game_started);
  EXPECT_EQ(reason_of_rejection("Prediction would exceed daily wager limit"),
            rejection::daily_limit);
  EXPECT_EQ(reason_of_rejection("something else"), rejection::other);
}

TEST(Registry, RendersEverySeriesOnceWithProcessMetrics) {
  registry r;
  validator_metrics v(r.get());
  at(v.predictions_rejected, rejection::game_not_found).Increment(3);
  v.connections_open->Set(2);
  at(v.handler_seconds, msg_type::prediction).Observe(0.0004);
  const auto text = r.render();
  EXPECT_NE(text.find("bettensor_predictions_rejected_total{reason=\"game_not_found\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("bettensor_connections_open 2"), std::string::npos);
  EXPECT_NE(
      text.find("bettensor_handler_duration_seconds_bucket{type=\"prediction\",le=\"0.0005\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(text.find("process_cpu_seconds_total "), std::string::npos);
  EXPECT_NE(text.find("process_open_fds "), std::string::npos);
  // A label value never comes from the network: every family has a fixed set of series.
  EXPECT_EQ(text.find("hotkey"), std::string::npos);
}

TEST(Registry, ServesMetricsOnItsOwnPort) {
  registry r;
  miner_metrics m(r.get());
  m.reconnects->Increment();
  const auto port = r.expose("127.0.0.1", 0);
  EXPECT_NE(port, 0);
}
