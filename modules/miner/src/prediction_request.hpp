// A prediction submitted by a local model over the miner's API: only game_id and
// predicted_outcome are required; what the model leaves out is filled from the known game and
// the miner's settings, then the result is parsed as strictly as the validator would.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "bettensor/protocol/error.hpp"
#include "bettensor/protocol/messages.hpp"

namespace bettensor::miner {

/// A fresh UUID4 text, the form Bettensor uses for prediction ids.
std::string make_prediction_id();

namespace detail {

struct prediction_defaults {
  std::string miner_uid;
  double wager = 0;
  std::string model_name;
};

using game_lookup = std::function<std::optional<protocol::team_game>(const std::string& game_id)>;

/// Errors: "Invalid message format: ..." for a malformed body, "Game not found" for an unknown
/// game (the validator's text).
protocol::result<protocol::team_game_prediction> complete_prediction(
    std::string_view body, const game_lookup& find_game, const prediction_defaults& defaults);

}  // namespace detail
}  // namespace bettensor::miner
