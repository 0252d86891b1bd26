// The rules one connection lives by, without a socket: how long it may take to authenticate,
// how long it may stay silent, how long a close may take, how fast it may send (a token bucket)
// and how many bad frames it may send. The validator's WebSocket sessions and the miner's
// validator links feed it events with the time they happened and do what it answers, so the
// rules are tested and fuzzed without I/O. An answer to close is advice: the connection starts
// its close by calling on_close, which is what moves the policy to closing. Not thread-safe: one
// connection's strand owns it.
#pragma once

#include <chrono>
#include <cstddef>
#include <limits>
#include <optional>

#include "bettensor/protocol/outcome.hpp"

namespace bettensor::transport {

struct session_limits {
  using duration = std::chrono::steady_clock::duration;
  duration auth_timeout = std::chrono::seconds(10);      // opened → authenticated
  duration silence_timeout = std::chrono::seconds(300);  // no frame this long once authenticated
  duration close_grace = std::chrono::seconds(3);        // a close taking longer ends the socket
  /// Token bucket for frames after authentication: refill per second and bucket size. A rate of
  /// zero means no limit.
  double rate_per_second = 0;
  double burst = 0;
  /// Bad frames tolerated; one more closes the connection.
  std::size_t max_invalid_frames = std::numeric_limits<std::size_t>::max();
};

/// What the connection must do now.
struct session_action {
  enum class kind {
    proceed,  // handle the frame / nothing to do yet
    ignore,   // closing: read and drop the frame
    close,    // start a close with `reason`
    abort,    // the close took too long: end the socket
  };
  kind what = kind::proceed;
  protocol::close_reason reason = protocol::close_reason::error;  // for close

  [[nodiscard]] bool operator==(const session_action&) const = default;
  static session_action proceed() { return {}; }
  static session_action ignore() { return {kind::ignore}; }
  static session_action close(protocol::close_reason r) { return {kind::close, r}; }
  static session_action abort() { return {kind::abort}; }
};

class session_policy {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;
  enum class phase { authenticating, open, closing };

  session_policy(session_limits limits, time_point opened);

  /// A frame was read at `now`. While authenticating: proceed (it is the handshake). Open:
  /// proceed, or close(rate_limited) when the bucket is empty. Closing: ignore.
  session_action on_frame(time_point now);
  /// The handshake succeeded at `now`: the silence deadline takes over.
  void on_authenticated(time_point now);
  /// The frame just handled was invalid: proceed, or close(invalid_frames) past the budget.
  session_action on_invalid_frame();
  /// A close is starting at `now` for `why` (from this policy's answer or from outside). The
  /// first reason given is the one the connection ends with; a second close is ignored.
  session_action on_close(protocol::close_reason why, time_point now);

  /// When on_deadline must be called next (the watchdog's timer).
  [[nodiscard]] time_point next_deadline() const;
  /// The watchdog fired at `now`: proceed when nothing is due (a timer may fire early),
  /// close(auth_timeout) or close(heartbeat_timeout), or abort when a close outlived its grace.
  session_action on_deadline(time_point now);

  [[nodiscard]] phase state() const { return phase_; }
  [[nodiscard]] time_point opened() const { return opened_; }
  [[nodiscard]] time_point last_activity() const { return last_activity_; }
  [[nodiscard]] std::size_t invalid_frames() const { return invalid_; }
  [[nodiscard]] double tokens() const { return tokens_; }
  /// Why this side is closing, if it is.
  [[nodiscard]] std::optional<protocol::close_reason> end_reason() const { return end_reason_; }

 private:
  bool take_token(time_point now);

  session_limits limits_;
  phase phase_ = phase::authenticating;
  time_point opened_;
  time_point last_activity_;
  time_point closing_since_{};
  time_point last_refill_;
  double tokens_;
  std::size_t invalid_ = 0;
  std::optional<protocol::close_reason> end_reason_;
};

}  // namespace bettensor::transport
