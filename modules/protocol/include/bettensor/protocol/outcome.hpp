// Outcomes as values. Each enum has one table giving the exact text a peer is sent (SPEC.md) and
// the label metrics use, so a decision, a status code or a metric is taken on the value and
// rewording a text cannot silently change one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace bettensor::protocol {

/// Why the validator refused a prediction: SPEC section 6 in check order, then what the
/// pipeline adds. `unknown` stands for a stored verdict text this version does not know.
enum class rejection : std::uint8_t {
  non_positive_wager,
  game_not_found,
  game_started,
  teams_mismatch,
  odds_mismatch,
  tie_odds_mismatch,
  invalid_outcome,
  predicted_odds_mismatch,
  confidence_range,
  daily_limit,
  storage_failure,
  unknown,
  count_
};
inline constexpr std::size_t rejection_count = static_cast<std::size_t>(rejection::count_);

/// The confirmation text: "Prediction with non-positive wager", "Game not found", ...
std::string_view text(rejection r);
/// The metric label: "non_positive_wager", "game_not_found", ... ("other" for unknown).
std::string_view label(rejection r);
/// The rejection whose text this is (a verdict read back from storage), or unknown.
rejection rejection_of_text(std::string_view text);

/// Why the validator ended a connection.
enum class close_reason : std::uint8_t {
  peer_closed,        // the miner closed, or the connection broke
  auth_failed,        // a refused handshake; the text is the refusal
  auth_timeout,       // no first frame in time
  heartbeat_timeout,  // silent for connection_timeout
  replaced,           // the same hotkey connected again
  slow_consumer,      // its send queue filled up
  rate_limited,       // frames faster than the token bucket allows
  invalid_frames,     // too many bad frames
  oversized,          // a message over the size limit (Beast sends 1009)
  full,               // max connections reached
  shutdown,           // the validator is stopping
  deregistered,       // left the metagraph or was blacklisted; the text is the refusal
  operator_request,   // POST /admin/disconnect
  error,              // anything else
  count_
};
inline constexpr std::size_t close_reason_count = static_cast<std::size_t>(close_reason::count_);

/// The close frame's reason text: "Slow consumer", "Heartbeat timeout", ... Empty for the
/// reasons whose text is given with the close (auth_failed, deregistered) or never sent.
std::string_view text(close_reason r);
/// The close code sent: 1000 heartbeat timeout and replaced, 1001 shutdown, 1013 full, 1009
/// oversized, 1011 error, 1008 the rest.
std::uint16_t close_code(close_reason r);
/// The metric label: "slow_consumer", "heartbeat_timeout", ...
std::string_view label(close_reason r);

}  // namespace bettensor::protocol
