#include "strategy.hpp"

namespace bettensor::miner::detail {

std::optional<protocol::team_game_prediction> choose(strategy s, const protocol::team_game& g,
                                                     protocol::timestamp now,
                                                     const prediction_defaults& defaults) {
  if (s == strategy::none || !g.active || g.outcome != "Unfinished") return std::nullopt;
  const auto starts = protocol::parse_timestamp(g.event_start_date);
  if (!starts || *starts <= now) return std::nullopt;
  const bool a_is_favorite = g.team_a_odds <= g.team_b_odds;
  const bool pick_a = (s == strategy::favorite) == a_is_favorite;
  protocol::team_game_prediction p;
  p.game_id = g.game_id;
  p.miner_uid = defaults.miner_uid;
  p.prediction_date = protocol::format_timestamp(now);
  p.predicted_outcome = pick_a ? g.team_a : g.team_b;
  p.predicted_odds = pick_a ? g.team_a_odds : g.team_b_odds;
  p.team_a = g.team_a;
  p.team_b = g.team_b;
  p.wager = defaults.wager;
  p.team_a_odds = g.team_a_odds;
  p.team_b_odds = g.team_b_odds;
  p.tie_odds = g.tie_odds;
  p.model_name = defaults.model_name;
  p.confidence_score = p.predicted_odds > 1 ? 1.0 / p.predicted_odds : 0.5;
  return p;
}

}  // namespace bettensor::miner::detail
