#include "prediction_request.hpp"

#include <boost/json.hpp>

#include <array>
#include <cstdint>

#include "bettensor/crypto/bytes.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/outcome.hpp"
#include "bettensor/protocol/timestamp.hpp"

namespace bettensor::miner {

std::string make_prediction_id() {
  std::array<std::uint8_t, 16> b{};
  crypto::random_bytes(b);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);  // UUID version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  const std::string hex = crypto::to_hex(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

namespace detail {

namespace json = boost::json;

namespace {

// The odds of the outcome the model picked (a team name, "Tie", or 0/1/2), if it names one.
std::optional<double> odds_of(const json::value& outcome, const protocol::team_game& g) {
  std::optional<int> index;
  if (outcome.is_string()) {
    const auto& s = outcome.get_string();
    if (s == g.team_a)
      index = 0;
    else if (s == g.team_b)
      index = 1;
    else if (s == "Tie")
      index = 2;
  } else if (outcome.is_int64() && outcome.get_int64() >= 0 && outcome.get_int64() <= 2) {
    index = static_cast<int>(outcome.get_int64());
  }
  if (!index) return std::nullopt;
  if (*index == 0) return g.team_a_odds;
  if (*index == 1) return g.team_b_odds;
  return g.tie_odds;
}

}  // namespace

protocol::result<protocol::team_game_prediction> complete_prediction(
    std::string_view body, const game_lookup& find_game, const prediction_defaults& defaults) {
  auto doc = protocol::parse_json(body);
  if (!doc) return doc.error();
  if (!doc->is_object()) return protocol::invalid_format("the body must be a JSON object");
  auto& o = doc->get_object();
  const auto* game_id = o.if_contains("game_id");
  if (game_id == nullptr) return protocol::invalid_format("missing field 'game_id'");
  if (!game_id->is_string()) return protocol::invalid_format("field 'game_id' must be a string");
  if (!o.contains("predicted_outcome"))
    return protocol::invalid_format("missing field 'predicted_outcome'");
  const auto game = find_game(std::string(game_id->get_string()));
  if (!game)
    return protocol::error{protocol::errc::invalid_format,
                           std::string(protocol::text(protocol::rejection::game_not_found))};

  const auto fill = [&o](std::string_view key, json::value v) {
    if (!o.contains(key)) o[key] = std::move(v);
  };
  fill("prediction_id", json::value(make_prediction_id()));
  fill("miner_uid", json::value(defaults.miner_uid));
  fill("prediction_date", json::value(protocol::format_timestamp(protocol::now_utc())));
  fill("team_a", json::value(game->team_a));
  fill("team_b", json::value(game->team_b));
  fill("team_a_odds", json::value(game->team_a_odds));
  fill("team_b_odds", json::value(game->team_b_odds));
  fill("tie_odds", game->tie_odds ? json::value(*game->tie_odds) : json::value(nullptr));
  fill("predicted_odds", json::value(odds_of(o.at("predicted_outcome"), *game).value_or(0.0)));
  fill("wager", json::value(defaults.wager));
  fill("model_name", json::value(defaults.model_name));
  fill("confidence_score", json::value(nullptr));
  fill("outcome", json::value("Unfinished"));
  fill("payout", json::value(0.0));
  return protocol::parse_prediction(*doc);
}

}  // namespace detail
}  // namespace bettensor::miner
