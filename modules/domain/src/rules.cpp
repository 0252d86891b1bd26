#include "bettensor/domain/rules.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"

namespace bettensor::domain {

namespace {

constexpr double odds_tolerance = 0.01;

bool odds_differ(double a, double b) {
  return std::fabs(a - b) > odds_tolerance + 1e-12;
}

}  // namespace

protocol::result<std::shared_ptr<const game_book>> game_book::make(
    std::vector<protocol::team_game> games) {
  auto book = std::make_shared<game_book>();
  std::sort(games.begin(), games.end(),
            [](const auto& a, const auto& b) { return a.game_id < b.game_id; });
  boost::json::array canonical;
  for (auto& g : games) {
    const auto starts = protocol::parse_timestamp(g.event_start_date);
    if (!starts) {
      return protocol::invalid_format("game '" + g.game_id +
                                      "': event_start_date is not an ISO-8601 timestamp");
    }
    if (!book->by_id_.emplace(g.game_id, entry{g, *starts}).second) {
      return protocol::invalid_format("game '" + g.game_id + "' appears twice");
    }
    canonical.push_back(protocol::to_json(g));
  }
  book->fingerprint_ = protocol::to_canonical(canonical);
  book->games_ = std::move(games);
  return std::shared_ptr<const game_book>(std::move(book));
}

protocol::result<std::shared_ptr<const game_book>> game_book::parse(std::string_view text) {
  auto doc = protocol::parse_json(text);
  if (!doc) return doc.error();
  const boost::json::array* list = doc->if_array();
  if (list == nullptr && doc->is_object()) {
    if (const auto* g = doc->get_object().if_contains("games")) list = g->if_array();
  }
  if (list == nullptr) {
    return protocol::invalid_format("expected an array of games or {\"games\": [...]}");
  }
  std::vector<protocol::team_game> games;
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto g = protocol::parse_team_game((*list)[i]);
    if (!g) {
      auto e = g.error();
      e.message += " (games[" + std::to_string(i) + "])";
      return e;
    }
    games.push_back(std::move(*g));
  }
  return make(std::move(games));
}

protocol::result<std::shared_ptr<const game_book>> game_book::load(
    const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return protocol::invalid_format("cannot read games file " + file.string());
  std::ostringstream text;
  text << in.rdbuf();
  auto book = parse(text.str());
  if (!book) return protocol::error{book.error().code, file.string() + ": " + book.error().message};
  return book;
}

const game_book::entry* game_book::find(const std::string& game_id) const {
  const auto it = by_id_.find(game_id);
  return it == by_id_.end() ? nullptr : &it->second;
}

std::optional<protocol::rejection> check_prediction(const protocol::team_game_prediction& p,
                                                    const game_book& games,
                                                    protocol::timestamp now) {
  using protocol::rejection;
  if (!(p.wager > 0)) return rejection::non_positive_wager;
  const game_book::entry* e = games.find(p.game_id);
  if (e == nullptr) return rejection::game_not_found;
  const protocol::team_game& g = e->game;
  if (now >= e->starts) return rejection::game_started;
  if (p.team_a != g.team_a || p.team_b != g.team_b) return rejection::teams_mismatch;
  if (odds_differ(p.team_a_odds, g.team_a_odds) || odds_differ(p.team_b_odds, g.team_b_odds)) {
    return rejection::odds_mismatch;
  }
  if (g.tie_odds ? (!p.tie_odds || odds_differ(*p.tie_odds, *g.tie_odds))
                 : p.tie_odds.has_value()) {
    return rejection::tie_odds_mismatch;
  }
  std::optional<double> outcome_odds;
  const std::string& o = p.predicted_outcome;
  if (o == g.team_a || o == "0") {
    outcome_odds = g.team_a_odds;
  } else if (o == g.team_b || o == "1") {
    outcome_odds = g.team_b_odds;
  } else if (o == "Tie" || o == "2") {
    outcome_odds = g.tie_odds;
  } else {
    return rejection::invalid_outcome;
  }
  if (!outcome_odds || odds_differ(p.predicted_odds, *outcome_odds)) {
    return rejection::predicted_odds_mismatch;
  }
  if (p.confidence_score && (*p.confidence_score < 0 || *p.confidence_score > 1)) {
    return rejection::confidence_range;
  }
  return std::nullopt;
}

}  // namespace bettensor::domain
