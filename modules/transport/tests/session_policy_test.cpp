#include "bettensor/transport/session_policy.hpp"

#include <gtest/gtest.h>

namespace bettensor::transport {
namespace {

using namespace std::chrono_literals;
using kind = session_action::kind;
using protocol::close_reason;

constexpr session_policy::time_point t0{std::chrono::hours(1)};

session_limits server_limits() {
  session_limits l;
  l.auth_timeout = 10s;
  l.silence_timeout = 300s;
  l.close_grace = 3s;
  l.rate_per_second = 100;
  l.burst = 4;
  l.max_invalid_frames = 2;
  return l;
}

TEST(SessionPolicy, AuthenticationHasItsDeadline) {
  session_policy p(server_limits(), t0);
  EXPECT_EQ(p.state(), session_policy::phase::authenticating);
  EXPECT_EQ(p.next_deadline(), t0 + 10s);
  EXPECT_EQ(p.on_deadline(t0 + 9s), session_action::proceed());  // a timer that fired early
  EXPECT_EQ(p.on_deadline(t0 + 10s), session_action::close(close_reason::auth_timeout));
  // The answer is advice: the policy closes only when the connection says it does.
  EXPECT_EQ(p.state(), session_policy::phase::authenticating);
}

TEST(SessionPolicy, FramesBeforeAuthenticationDoNotTakeTokens) {
  session_policy p(server_limits(), t0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(p.on_frame(t0), session_action::proceed());
  EXPECT_EQ(p.tokens(), 4);
}

TEST(SessionPolicy, SilenceDeadlineMovesWithEveryFrame) {
  session_policy p(server_limits(), t0);
  p.on_authenticated(t0 + 1s);
  EXPECT_EQ(p.state(), session_policy::phase::open);
  EXPECT_EQ(p.next_deadline(), t0 + 301s);
  EXPECT_EQ(p.on_frame(t0 + 100s), session_action::proceed());
  EXPECT_EQ(p.next_deadline(), t0 + 400s);
  EXPECT_EQ(p.on_deadline(t0 + 399s), session_action::proceed());
  EXPECT_EQ(p.on_deadline(t0 + 400s), session_action::close(close_reason::heartbeat_timeout));
}

TEST(SessionPolicy, TokenBucketEmptiesAndRefills) {
  session_policy p(server_limits(), t0);
  p.on_authenticated(t0);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(p.on_frame(t0), session_action::proceed()) << i;
  EXPECT_EQ(p.on_frame(t0), session_action::close(close_reason::rate_limited));
  // 100 per second: 10 ms buys one more frame, and the bucket never holds more than its size.
  EXPECT_EQ(p.on_frame(t0 + 10ms), session_action::proceed());
  EXPECT_EQ(p.on_frame(t0 + 10ms), session_action::close(close_reason::rate_limited));
  p.on_frame(t0 + 1h);
  EXPECT_DOUBLE_EQ(p.tokens(), 3);
}

TEST(SessionPolicy, NoRateLimitWhenRateIsZero) {
  session_limits l = server_limits();
  l.rate_per_second = 0;
  l.burst = 0;
  session_policy p(l, t0);
  p.on_authenticated(t0);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(p.on_frame(t0), session_action::proceed());
}

TEST(SessionPolicy, InvalidFrameBudget) {
  session_policy p(server_limits(), t0);
  p.on_authenticated(t0);
  EXPECT_EQ(p.on_invalid_frame(), session_action::proceed());
  EXPECT_EQ(p.on_invalid_frame(), session_action::proceed());
  EXPECT_EQ(p.on_invalid_frame(), session_action::close(close_reason::invalid_frames));
  EXPECT_EQ(p.invalid_frames(), 3U);
}

TEST(SessionPolicy, FirstCloseWinsAndHasAGrace) {
  session_policy p(server_limits(), t0);
  p.on_authenticated(t0);
  EXPECT_EQ(p.on_close(close_reason::slow_consumer, t0 + 5s),
            session_action::close(close_reason::slow_consumer));
  EXPECT_EQ(p.on_close(close_reason::shutdown, t0 + 6s), session_action::ignore());
  EXPECT_EQ(p.end_reason(), close_reason::slow_consumer);
  EXPECT_EQ(p.state(), session_policy::phase::closing);
  // While closing, frames are drained and ignored, and bad ones no longer count.
  EXPECT_EQ(p.on_frame(t0 + 6s), session_action::ignore());
  EXPECT_EQ(p.on_invalid_frame(), session_action::ignore());
  EXPECT_EQ(p.next_deadline(), t0 + 8s);
  EXPECT_EQ(p.on_deadline(t0 + 7s), session_action::proceed());
  EXPECT_EQ(p.on_deadline(t0 + 8s), session_action::abort());
}

TEST(SessionPolicy, CloseDuringAuthenticationUsesTheGrace) {
  session_policy p(server_limits(), t0);
  p.on_close(close_reason::auth_failed, t0 + 1s);
  EXPECT_EQ(p.next_deadline(), t0 + 4s);
  p.on_authenticated(t0 + 2s);  // too late: a closing connection stays closing
  EXPECT_EQ(p.state(), session_policy::phase::closing);
}

TEST(SessionPolicy, ClockGoingBackwardsNeitherRefillsNorMovesActivityBack) {
  session_policy p(server_limits(), t0);
  p.on_authenticated(t0 + 10s);
  for (int i = 0; i < 4; ++i) p.on_frame(t0 + 10s);
  EXPECT_EQ(p.on_frame(t0), session_action::close(close_reason::rate_limited));
  EXPECT_EQ(p.last_activity(), t0 + 10s);
}

}  // namespace
}  // namespace bettensor::transport
