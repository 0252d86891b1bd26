#include "bettensor/protocol/outcome.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace bettensor::protocol {
namespace {

// SPEC section 6's texts, byte for byte, in check order.
TEST(Outcome, RejectionTextsAreTheSpecs) {
  EXPECT_EQ(text(rejection::non_positive_wager), "Prediction with non-positive wager");
  EXPECT_EQ(text(rejection::game_not_found), "Game not found");
  EXPECT_EQ(text(rejection::game_started), "Game has already started");
  EXPECT_EQ(text(rejection::teams_mismatch), "Submitted team names do not match game data");
  EXPECT_EQ(text(rejection::odds_mismatch), "Submitted team odds do not match current game odds");
  EXPECT_EQ(text(rejection::tie_odds_mismatch),
            "Submitted tie odds do not match current game odds");
  EXPECT_EQ(text(rejection::invalid_outcome), "Invalid predicted_outcome");
  EXPECT_EQ(text(rejection::predicted_odds_mismatch),
            "Predicted odds do not match current game odds");
  EXPECT_EQ(text(rejection::confidence_range), "Confidence score must be between 0 and 1");
  EXPECT_EQ(text(rejection::daily_limit), "Prediction would exceed daily wager limit");
  EXPECT_EQ(text(rejection::storage_failure),
            "Internal error: prediction could not be stored, please retry");
}

TEST(Outcome, EveryRejectionReadsBackFromItsTextAndHasItsOwnLabel) {
  std::set<std::string> labels;
  for (std::size_t i = 0; i < rejection_count; ++i) {
    const auto r = static_cast<rejection>(i);
    EXPECT_EQ(rejection_of_text(text(r)), r) << text(r);
    EXPECT_TRUE(labels.emplace(label(r)).second) << "label used twice: " << label(r);
  }
  EXPECT_EQ(label(rejection::game_started), "game_started");
  EXPECT_EQ(label(rejection::daily_limit), "daily_limit");
  EXPECT_EQ(label(rejection::unknown), "other");
  EXPECT_EQ(rejection_of_text("something else"), rejection::unknown);
  EXPECT_EQ(rejection_of_text(""), rejection::unknown);
}

// The close texts miners see (SPEC sections 4, 7) with their codes; one label each.
TEST(Outcome, CloseReasonsHaveTheSpecTextsCodesAndLabels) {
  EXPECT_EQ(text(close_reason::slow_consumer), "Slow consumer");
  EXPECT_EQ(text(close_reason::heartbeat_timeout), "Heartbeat timeout");
  EXPECT_EQ(close_code(close_reason::heartbeat_timeout), 1000);
  EXPECT_EQ(text(close_reason::replaced), "Client already connected: replaced by a new connection");
  EXPECT_EQ(close_code(close_reason::replaced), 1000);
  EXPECT_EQ(text(close_reason::full), "Max connections reached");
  EXPECT_EQ(close_code(close_reason::full), 1013);
  EXPECT_EQ(text(close_reason::shutdown), "Server closing connection");
  EXPECT_EQ(close_code(close_reason::shutdown), 1001);
  EXPECT_EQ(text(close_reason::rate_limited), "Rate limit exceeded");
  EXPECT_EQ(text(close_reason::invalid_frames), "Too many invalid messages");
  EXPECT_EQ(text(close_reason::auth_timeout), "Authentication timeout");
  EXPECT_EQ(text(close_reason::operator_request), "Disconnected by the validator's operator");
  EXPECT_EQ(label(close_reason::operator_request), "operator");
  for (const auto r :
       {close_reason::auth_failed, close_reason::auth_timeout, close_reason::slow_consumer,
        close_reason::rate_limited, close_reason::invalid_frames, close_reason::deregistered,
        close_reason::operator_request})
    EXPECT_EQ(close_code(r), 1008) << label(r);
  EXPECT_EQ(close_code(close_reason::oversized), 1009);
  std::set<std::string> labels;
  for (std::size_t i = 0; i < close_reason_count; ++i)
    EXPECT_TRUE(labels.emplace(label(static_cast<close_reason>(i))).second);
  EXPECT_EQ(label(close_reason::peer_closed), "peer_closed");
  EXPECT_EQ(label(close_reason::deregistered), "deregistered");
}

}  // namespace
}  // namespace bettensor::protocol
