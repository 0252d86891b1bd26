#include "neuron_tables.hpp"

#include <charconv>
#include <cstdio>
#include <optional>
#include <string>

#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"

namespace bettensor::storage::detail {

namespace {

std::optional<std::int64_t> to_integer(std::string_view text) {
  std::int64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || text.empty()) return std::nullopt;
  return v;
}

// A stored number, or nullopt when the cell holds anything else (the Python side's types are
// not ours to trust).
std::optional<double> number_of(const SQLite::Column& c) {
  if (c.isInteger() || c.isFloat()) return c.getDouble();
  return std::nullopt;
}

std::string text_of(const SQLite::Column& c) {
  return c.isNull() ? std::string() : c.getString();
}

// The reference's outcome codes (sports_data.py): 0 TeamAWin, 1 TeamBWin, 2 Draw, 3 Unfinished.
std::string outcome_text(const SQLite::Column& c) {
  if (c.isNull()) return "Unfinished";
  if (c.isInteger()) {
    switch (c.getInt64()) {
      case 0:
        return "TeamAWin";
      case 1:
        return "TeamBWin";
      case 2:
        return "Draw";
      default:
        return "Unfinished";
    }
  }
  return c.getString();
}

// predicted_outcome as the reference stores it: 0 team_a, 1 team_b, 2 tie.
std::optional<std::int64_t> outcome_code(const protocol::team_game_prediction& p) {
  if (p.predicted_outcome_is_number) return to_integer(p.predicted_outcome);
  if (p.predicted_outcome == p.team_a) return 0;
  if (p.predicted_outcome == p.team_b) return 1;
  if (p.predicted_outcome == "Tie") return 2;
  return std::nullopt;
}

// A miner_stats cell as the reference's confirmation sends it: every value a string, NULL "0",
// a little-endian integer blob as its number.
std::string stats_text(const SQLite::Column& c) {
  if (c.isNull()) return "0";
  if (c.isInteger()) return std::to_string(c.getInt64());
  if (c.isFloat()) {
    std::string out;
    protocol::append_python_float(out, c.getDouble());
    return out;
  }
  if (c.isBlob()) {
    const auto* bytes = static_cast<const unsigned char*>(c.getBlob());
    const int n = c.getBytes();
    if (n > 8) return "0";
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8U) | bytes[i];
    return std::to_string(v);
  }
  return c.getString();
}

template <class T>
void bind_optional(SQLite::Statement& q, int index, const std::optional<T>& v) {
  if (v) {
    q.bind(index, *v);
  } else {
    q.bind(index);
  }
}

}  // namespace

void bind_prediction_row(SQLite::Statement& q, const ledger_entry& e) {
  const auto& p = e.prediction;
  q.bind(1, p.prediction_id);
  if (const auto id = to_integer(p.game_id)) {
    q.bind(2, *id);
  } else {
    q.bind(2, p.game_id);
  }
  bind_optional(q, 3, e.uid ? e.uid : to_integer(p.miner_uid));
  q.bind(4, protocol::format_timestamp(e.received));
  bind_optional(q, 5, outcome_code(p));
  q.bind(6, p.predicted_odds);
  q.bind(7, p.team_a);
  q.bind(8, p.team_b);
  q.bind(9, p.wager);
  q.bind(10, p.team_a_odds);
  q.bind(11, p.team_b_odds);
  bind_optional(q, 12, p.tie_odds);
  bind_optional(q, 13, p.model_name);
  bind_optional(q, 14, p.confidence_score);
}

// The games the neuron keeps: every unfinished row of game_data, as the reference's
// communication manager turns them into TeamGames (game_id is the external id). A row whose
// odds are not numbers is skipped and reported.
std::vector<protocol::team_game> read_game_data(SQLite::Database& db, std::size_t& skipped) {
  std::vector<protocol::team_game> out;
  SQLite::Statement q(db,
                      "SELECT game_id, external_id, team_a, team_b, sport, league, create_date, "
                      "last_update_date, event_start_date, active, outcome, team_a_odds, "
                      "team_b_odds, tie_odds, can_tie FROM game_data WHERE outcome IS NULL OR "
                      "outcome IN (3, '3', 'Unfinished') ORDER BY event_start_date, game_id");
  while (q.executeStep()) {
    protocol::team_game g;
    const auto external = q.getColumn(1);
    g.game_id = external.isInteger() ? std::to_string(external.getInt64())
                : external.isNull()  ? text_of(q.getColumn(0))
                                     : external.getString();
    const auto a = number_of(q.getColumn(11));
    const auto b = number_of(q.getColumn(12));
    const auto tie = q.getColumn(13);
    if (g.game_id.empty() || !a || !b || (!tie.isNull() && !number_of(tie))) {
      std::fprintf(stderr, "storage: game_data row '%s' skipped: its odds are not numbers\n",
                   g.game_id.c_str());
      ++skipped;
      continue;
    }
    g.team_a = text_of(q.getColumn(2));
    g.team_b = text_of(q.getColumn(3));
    g.sport = text_of(q.getColumn(4));
    g.league = text_of(q.getColumn(5));
    g.create_date = text_of(q.getColumn(6));
    g.last_update_date = text_of(q.getColumn(7));
    g.event_start_date = text_of(q.getColumn(8));
    g.active = q.getColumn(9).isNull() || q.getColumn(9).getInt64() != 0;
    g.outcome = outcome_text(q.getColumn(10));
    g.team_a_odds = *a;
    g.team_b_odds = *b;
    if (!tie.isNull()) g.tie_odds = tie.getDouble();
    g.can_tie = !q.getColumn(14).isNull() && q.getColumn(14).getInt64() != 0;
    out.push_back(std::move(g));
  }
  return out;
}

boost::json::object read_miner_stats(SQLite::Database& db, std::int64_t uid) {
  boost::json::object out;  // the reference sends {} for a miner without a row
  SQLite::Statement q(db, "SELECT * FROM miner_stats WHERE miner_uid = ?");
  q.bind(1, uid);
  if (q.executeStep()) {
    for (int i = 0; i < q.getColumnCount(); ++i) {
      out[q.getColumnName(i)] = stats_text(q.getColumn(i));
    }
  }
  return out;
}

}  // namespace bettensor::storage::detail
