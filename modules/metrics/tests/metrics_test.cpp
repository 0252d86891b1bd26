#include <gtest/gtest.h>

#include "bettensor/metrics/metrics.hpp"

using namespace bettensor::metrics;

TEST(Reasons, RefusalCodesMapToAuthFailureLabels) {
  namespace p = bettensor::protocol;
  EXPECT_EQ(auth_failure_of(p::errc::not_registered), auth_failure::not_registered);
  EXPECT_EQ(auth_failure_of(p::errc::blacklisted), auth_failure::blacklisted);
  EXPECT_EQ(auth_failure_of(p::errc::stale_timestamp), auth_failure::stale_timestamp);
  EXPECT_EQ(auth_failure_of(p::errc::invalid_signature), auth_failure::invalid_signature);
  EXPECT_EQ(auth_failure_of(p::errc::invalid_format), auth_failure::invalid_format);
  EXPECT_EQ(auth_failure_of(p::errc::replayed_nonce), auth_failure::invalid_format);
}

TEST(Registry, RendersEverySeriesOnceWithProcessMetrics) {
  registry r;
  validator_metrics v(r.get());
  at(v.predictions_rejected, bettensor::protocol::rejection::game_not_found).Increment(3);
  at(v.connections_closed, bettensor::protocol::close_reason::slow_consumer).Increment();
  v.connections_open->Set(2);
  at(v.handler_seconds, bettensor::protocol::frame_kind::prediction).Observe(0.0004);
  const auto text = r.render();
  EXPECT_NE(text.find("bettensor_predictions_rejected_total{reason=\"game_not_found\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("bettensor_connections_open 2"), std::string::npos);
  EXPECT_NE(text.find("bettensor_connections_closed_total{reason=\"slow_consumer\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("bettensor_connections_closed_total{reason=\"deregistered\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("bettensor_messages_total{direction=\"out\",type=\"refusal\"} 0"),
            std::string::npos);
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
