// The built-in strategy as a pure function: which prediction to make on a game, from the game
// alone (no clock reads, no storage).
#pragma once

#include <optional>

#include "bettensor/miner/miner_service.hpp"
#include "bettensor/protocol/timestamp.hpp"
#include "prediction_request.hpp"

namespace bettensor::miner::detail {

/// The prediction `s` makes on `g` at `now`, or nullopt when it makes none: no strategy, a game
/// that is inactive, finished or already started. favorite picks the lower odds (team A on a
/// tie), underdog the higher; the confidence is the implied probability 1/odds.
std::optional<protocol::team_game_prediction> choose(strategy s, const protocol::team_game& g,
                                                     protocol::timestamp now,
                                                     const prediction_defaults& defaults);

}  // namespace bettensor::miner::detail
