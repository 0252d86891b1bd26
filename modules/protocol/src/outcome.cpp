#include "bettensor/protocol/outcome.hpp"

#include <array>

namespace bettensor::protocol {

namespace {

struct rejection_row {
  std::string_view text;
  std::string_view label;
};

// Indexed by rejection; the texts are SPEC section 6's, byte for byte.
constexpr std::array<rejection_row, rejection_count> rejections = {{
    {"Prediction with non-positive wager", "non_positive_wager"},
    {"Game not found", "game_not_found"},
    {"Game has already started", "game_started"},
    {"Submitted team names do not match game data", "teams_mismatch"},
    {"Submitted team odds do not match current game odds", "odds_mismatch"},
    {"Submitted tie odds do not match current game odds", "tie_odds_mismatch"},
    {"Invalid predicted_outcome", "invalid_outcome"},
    {"Predicted odds do not match current game odds", "predicted_odds_mismatch"},
    {"Confidence score must be between 0 and 1", "confidence_range"},
    {"Prediction would exceed daily wager limit", "daily_limit"},
    {"Internal error: prediction could not be stored, please retry", "storage_failure"},
    {"Prediction refused", "other"},
}};

struct close_row {
  std::string_view text;
  std::uint16_t code;
  std::string_view label;
};

// Indexed by close_reason.
constexpr std::array<close_row, close_reason_count> closes = {{
    {"", 1000, "peer_closed"},
    {"", 1008, "auth_failed"},
    {"Authentication timeout", 1008, "auth_timeout"},
    {"Heartbeat timeout", 1000, "heartbeat_timeout"},
    {"Client already connected: replaced by a new connection", 1000, "replaced"},
    {"Slow consumer", 1008, "slow_consumer"},
    {"Rate limit exceeded", 1008, "rate_limited"},
    {"Too many invalid messages", 1008, "invalid_frames"},
    {"", 1009, "oversized"},
    {"Max connections reached", 1013, "full"},
    {"Server closing connection", 1001, "shutdown"},
    {"", 1008, "deregistered"},
    {"Disconnected by the validator's operator", 1008, "operator"},
    {"", 1011, "error"},
}};

}  // namespace

std::string_view text(close_reason r) {
  return closes.at(static_cast<std::size_t>(r)).text;
}

std::uint16_t close_code(close_reason r) {
  return closes.at(static_cast<std::size_t>(r)).code;
}

std::string_view label(close_reason r) {
  return closes.at(static_cast<std::size_t>(r)).label;
}

std::string_view text(rejection r) {
  return rejections.at(static_cast<std::size_t>(r)).text;
}

std::string_view label(rejection r) {
  return rejections.at(static_cast<std::size_t>(r)).label;
}

rejection rejection_of_text(std::string_view t) {
  for (std::size_t i = 0; i < rejections.size(); ++i)
    if (rejections[i].text == t) return static_cast<rejection>(i);
  return rejection::unknown;
}

}  // namespace bettensor::protocol
