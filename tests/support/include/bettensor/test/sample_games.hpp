// Two upcoming games (kick-off tomorrow) that the validator tests and fuzz targets offer: an NFL
// game without a tie and an EPL game with one.
#pragma once

#include <chrono>
#include <vector>

#include "bettensor/protocol/messages.hpp"
#include "bettensor/protocol/timestamp.hpp"

namespace bettensor::test {

inline std::vector<protocol::team_game> upcoming_games() {
  using namespace std::chrono_literals;
  const auto tomorrow = protocol::format_timestamp(protocol::now_utc() + 24h);
  const auto yesterday = protocol::format_timestamp(protocol::now_utc() - 24h);
  protocol::team_game a;
  a.game_id = "g-1";
  a.team_a = "Kansas City Chiefs";
  a.team_b = "Las Vegas Raiders";
  a.sport = "football";
  a.league = "NFL";
  a.create_date = a.last_update_date = yesterday;
  a.event_start_date = tomorrow;
  a.team_a_odds = 1.45;
  a.team_b_odds = 2.8;
  protocol::team_game b = a;
  b.game_id = "g-2";
  b.team_a = "Arsenal";
  b.team_b = "Chelsea";
  b.sport = "soccer";
  b.league = "EPL";
  b.team_a_odds = 2.1;
  b.team_b_odds = 3.4;
  b.tie_odds = 3.25;
  b.can_tie = true;
  return {a, b};
}

}  // namespace bettensor::test
