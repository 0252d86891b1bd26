#include "bettensor/transport/session_policy.hpp"

#include <algorithm>

namespace bettensor::transport {

session_policy::session_policy(session_limits limits, time_point opened)
    : limits_(limits),
      opened_(opened),
      last_activity_(opened),
      last_refill_(opened),
      tokens_(limits.burst) {}

session_action session_policy::on_frame(time_point now) {
  if (phase_ == phase::closing) return session_action::ignore();
  last_activity_ = std::max(last_activity_, now);
  if (phase_ == phase::authenticating) return session_action::proceed();
  if (!take_token(now)) return session_action::close(protocol::close_reason::rate_limited);
  return session_action::proceed();
}

void session_policy::on_authenticated(time_point now) {
  if (phase_ != phase::authenticating) return;
  phase_ = phase::open;
  last_activity_ = std::max(last_activity_, now);
}

session_action session_policy::on_invalid_frame() {
  if (phase_ == phase::closing) return session_action::ignore();
  if (++invalid_ <= limits_.max_invalid_frames) return session_action::proceed();
  return session_action::close(protocol::close_reason::invalid_frames);
}

session_action session_policy::on_close(protocol::close_reason why, time_point now) {
  if (phase_ == phase::closing) return session_action::ignore();
  phase_ = phase::closing;
  closing_since_ = now;
  end_reason_ = why;
  return session_action::close(why);
}

session_policy::time_point session_policy::next_deadline() const {
  switch (phase_) {
    case phase::authenticating:
      return opened_ + limits_.auth_timeout;
    case phase::open:
      return last_activity_ + limits_.silence_timeout;
    case phase::closing:
      return closing_since_ + limits_.close_grace;
  }
  return time_point::max();
}

session_action session_policy::on_deadline(time_point now) {
  if (now < next_deadline()) return session_action::proceed();
  switch (phase_) {
    case phase::authenticating:
      return session_action::close(protocol::close_reason::auth_timeout);
    case phase::open:
      return session_action::close(protocol::close_reason::heartbeat_timeout);
    case phase::closing:
      return session_action::abort();
  }
  return session_action::abort();
}

bool session_policy::take_token(time_point now) {
  if (limits_.rate_per_second <= 0) return true;
  if (now > last_refill_) {
    const double elapsed = std::chrono::duration<double>(now - last_refill_).count();
    tokens_ = std::min(limits_.burst, tokens_ + elapsed * limits_.rate_per_second);
    last_refill_ = now;
  }
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

}  // namespace bettensor::transport
