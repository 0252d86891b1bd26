// Fuzzes the session policy with any sequence of events at any times (including a clock that
// goes backwards), checking its invariants after each: a closing session stays closing with its
// first reason, the bucket stays within its size, a deadline is due exactly when on_deadline
// says so, and frames before authentication are never rate limited.
#include <cstdlib>

#include "bettensor/transport/session_policy.hpp"

using namespace bettensor;
using transport::session_action;
using transport::session_policy;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  using std::chrono::milliseconds;
  transport::session_limits limits;
  limits.auth_timeout = milliseconds(data[0] * 10);
  limits.silence_timeout = milliseconds(data[1] * 100);
  limits.close_grace = milliseconds(data[2] * 10);
  limits.rate_per_second = data[3] % 4 == 0 ? 0 : data[3];
  limits.burst = data[3] % 16;
  limits.max_invalid_frames = data[3] % 8;
  const session_policy::time_point t0{std::chrono::hours(1)};
  session_policy p(limits, t0);
  auto now = t0;
  std::optional<protocol::close_reason> first;
  for (std::size_t i = 4; i + 1 < size; i += 2) {
    const std::uint8_t op = data[i];
    const auto step = milliseconds(data[i + 1]) * ((op & 0x80) ? -1 : 1) * 10;
    now += step;
    const auto before = p.state();
    session_action a;
    switch (op % 5) {
      case 0:
        a = p.on_frame(now);
        if (before == session_policy::phase::closing) check(a == session_action::ignore());
        if (before == session_policy::phase::authenticating) check(a == session_action::proceed());
        break;
      case 1:
        p.on_authenticated(now);
        if (before == session_policy::phase::closing)
          check(p.state() == session_policy::phase::closing);
        break;
      case 2:
        a = p.on_invalid_frame();
        if (a.what == session_action::kind::close)
          check(p.invalid_frames() > limits.max_invalid_frames);
        break;
      case 3: {
        const auto why = static_cast<protocol::close_reason>(op % protocol::close_reason_count);
        a = p.on_close(why, now);
        if (!first) {
          first = why;
          check(a == session_action::close(why));
        } else {
          check(a == session_action::ignore());
        }
        break;
      }
      default:
        a = p.on_deadline(now);
        check((a == session_action::proceed()) == (now < p.next_deadline()));
        if (a.what == session_action::kind::abort)
          check(p.state() == session_policy::phase::closing);
        break;
    }
    check(p.end_reason() == first);
    check((p.state() == session_policy::phase::closing) == first.has_value());
    check(p.tokens() >= 0 && p.tokens() <= limits.burst);
    check(p.last_activity() >= t0);
  }
  return 0;
}
