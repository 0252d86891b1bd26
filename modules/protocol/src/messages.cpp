#include "bettensor/protocol/messages.hpp"

#include <array>
#include <charconv>
#include <cmath>

#include "bettensor/protocol/canonical_json.hpp"

namespace bettensor::protocol {

namespace json = boost::json;

namespace {

// Indexed by frame_kind; the first `auth` entries are the envelope types.
constexpr std::array<std::string_view, frame_kind_count> kind_labels = {
    "prediction", "confirmation", "game_update", "heartbeat", "heartbeat_ack", "heartbeat_response",
    "welcome",    "error",        "auth",        "refusal",   "other"};

// Reads typed fields of one object and keeps the first problem met, worded for the peer.
class field_reader {
 public:
  explicit field_reader(const json::object& o) : o_(o) {}

  std::string string(std::string_view key) {
    const json::value* v = find(key);
    if (v == nullptr) return {};
    if (!v->is_string()) return fail(key, "must be a string"), std::string();
    return std::string(v->get_string());
  }

  // string()'s checks without the copy.
  void check_string(std::string_view key) {
    const json::value* v = find(key);
    if (v != nullptr && !v->is_string()) fail(key, "must be a string");
  }

  std::optional<std::string> optional_string(std::string_view key) {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_string()) return fail(key, "must be a string or null"), std::nullopt;
    return std::string(v->get_string());
  }

  double number(std::string_view key) {
    const json::value* v = find(key);
    if (v == nullptr) return 0;
    return as_number(key, *v, "must be a number").value_or(0);
  }

  std::optional<double> optional_number(std::string_view key) {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    return as_number(key, *v, "must be a number or null");
  }

  bool boolean(std::string_view key) {
    const json::value* v = find(key);
    if (v == nullptr) return false;
    if (!v->is_bool()) return fail(key, "must be a boolean"), false;
    return v->get_bool();
  }

  std::optional<std::int64_t> optional_integer(std::string_view key) {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
      return static_cast<std::int64_t>(v->get_uint64());
    }
    fail(key, "must be an integer or null");
    return std::nullopt;
  }

  std::int64_t integer(std::string_view key) {
    const json::value* v = find(key);
    if (v == nullptr) return 0;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
      return static_cast<std::int64_t>(v->get_uint64());
    }
    fail(key, "must be an integer");
    return 0;
  }

  const json::object* object(std::string_view key) {
    const json::value* v = find(key);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) return fail(key, "must be an object"), nullptr;
    return &v->get_object();
  }

  const json::array* array(std::string_view key) {
    const json::value* v = find(key);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) return fail(key, "must be an array"), nullptr;
    return &v->get_array();
  }

  // Outcomes are text in Bettensor ("Unfinished", "Tie", a team, "0".."2"), but Python code may
  // send the numeric forms as integers: accept both, keeping the digits as text.
  std::string text_or_integer(std::string_view key, bool* was_integer = nullptr) {
    const json::value* v = find(key);
    if (v == nullptr) return {};
    if (v->is_string()) return std::string(v->get_string());
    if (v->is_int64()) {
      if (was_integer != nullptr) *was_integer = true;
      return std::to_string(v->get_int64());
    }
    fail(key, "must be a string or an integer");
    return {};
  }

  void fail(std::string_view key, std::string_view what) {
    if (!error_) error_ = invalid_format("field '" + std::string(key) + "' " + std::string(what));
  }
  void fail_with(error e) {
    if (!error_) error_ = std::move(e);
  }

  [[nodiscard]] bool ok() const { return !error_; }
  [[nodiscard]] error take_error() { return std::move(*error_); }

 private:
  const json::value* find(std::string_view key) {
    const json::value* v = o_.if_contains(key);
    if (v == nullptr) fail(key, "is missing");
    return v;
  }

  std::optional<double> as_number(std::string_view key, const json::value& v,
                                  std::string_view what) {
    if (v.is_double()) return v.get_double();
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    fail(key, what);
    return std::nullopt;
  }

  const json::object& o_;
  std::optional<error> error_;
};

const json::object* as_object(const json::value& v) {
  return v.if_object();
}

error not_an_object(std::string_view what) {
  return invalid_format(std::string(what) + " must be a JSON object");
}

json::value optional_value(const std::optional<double>& d) {
  return d ? json::value(*d) : json::value(nullptr);
}

}  // namespace

result<auth_message> parse_auth_message(const json::value& v) {
  const json::object* o = as_object(v);
  if (o == nullptr) return not_an_object("authentication message");
  field_reader r(*o);
  auth_message m{r.string("hotkey"), r.string("timestamp"), r.string("nonce"),
                 r.string("signature")};
  if (!r.ok()) return r.take_error();
  return m;
}

result<envelope> parse_envelope(json::value&& v) {
  json::object* o = v.if_object();
  if (o == nullptr) return not_an_object("message");
  field_reader r(*o);
  std::string type = r.string("type");
  r.check_string("sender");
  r.object("data");
  r.check_string("timestamp");
  r.check_string("nonce");
  r.check_string("signature");
  if (!r.ok()) return r.take_error();
  if (type.empty()) return invalid_format("field 'type' must not be empty");
  // Move-constructed, so the texts and the data stay in the memory they were parsed into (an
  // assignment to a value of another memory resource would copy them).
  const auto text = [o](std::string_view key) -> json::string {
    return std::move(o->at(key).get_string());
  };
  return envelope{std::move(type),   text("sender"), json::value(std::move(o->at("data"))),
                  text("timestamp"), text("nonce"),  text("signature")};
}

result<team_game_prediction> parse_prediction(const json::value& v) {
  const json::object* o = as_object(v);
  if (o == nullptr) return not_an_object("prediction data");
  field_reader r(*o);
  team_game_prediction p;
  p.prediction_id = r.string("prediction_id");
  p.game_id = r.string("game_id");
  p.miner_uid = r.string("miner_uid");
  p.prediction_date = r.string("prediction_date");
  p.predicted_outcome = r.text_or_integer("predicted_outcome", &p.predicted_outcome_is_number);
  p.predicted_odds = r.number("predicted_odds");
  p.team_a = r.string("team_a");
  p.team_b = r.string("team_b");
  p.wager = r.number("wager");
  p.team_a_odds = r.number("team_a_odds");
  p.team_b_odds = r.number("team_b_odds");
  p.tie_odds = r.optional_number("tie_odds");
  p.model_name = r.optional_string("model_name");
  p.confidence_score = r.optional_number("confidence_score");
  p.outcome = r.optional_string("outcome").value_or("Unfinished");
  p.payout = r.optional_number("payout").value_or(0.0);
  if (!r.ok()) return r.take_error();
  if (p.prediction_id.empty()) return invalid_format("field 'prediction_id' must not be empty");
  if (p.game_id.empty()) return invalid_format("field 'game_id' must not be empty");
  return p;
}

result<team_game> parse_team_game(const json::value& v) {
  const json::object* o = as_object(v);
  if (o == nullptr) return not_an_object("game");
  field_reader r(*o);
  team_game g;
  g.game_id = r.string("game_id");
  g.team_a = r.string("team_a");
  g.team_b = r.string("team_b");
  g.sport = r.string("sport");
  g.league = r.string("league");
  g.create_date = r.string("create_date");
  g.last_update_date = r.string("last_update_date");
  g.event_start_date = r.string("event_start_date");
  g.active = r.boolean("active");
  g.outcome = r.text_or_integer("outcome");
  g.team_a_odds = r.number("team_a_odds");
  g.team_b_odds = r.number("team_b_odds");
  g.tie_odds = r.optional_number("tie_odds");
  g.can_tie = r.boolean("can_tie");
  if (!r.ok()) return r.take_error();
  if (g.game_id.empty()) return invalid_format("field 'game_id' must not be empty");
  return g;
}

result<game_update> parse_game_update(const json::value& v) {
  const json::object* o = as_object(v);
  if (o == nullptr) return not_an_object("game update data");
  field_reader r(*o);
  const json::array* games = r.array("games");
  game_update u;
  u.timestamp = r.string("timestamp");
  if (!r.ok()) return r.take_error();
  u.games.reserve(games->size());
  for (std::size_t i = 0; i < games->size(); ++i) {
    auto g = parse_team_game((*games)[i]);
    if (!g) {
      auto e = g.error();
      e.message += " (games[" + std::to_string(i) + "])";
      return e;
    }
    u.games.push_back(std::move(*g));
  }
  return u;
}

result<confirmation> parse_confirmation(const json::value& v) {
  const json::object* o = as_object(v);
  if (o == nullptr) return not_an_object("confirmation data");
  field_reader r(*o);
  confirmation c;
  c.prediction_id = r.string("prediction_id");
  c.status = r.string("status");
  c.message = r.optional_string("message").value_or("");
  c.timestamp = r.optional_string("timestamp").value_or("");
  if (const json::value* stats = o->if_contains("miner_stats"); stats && !stats->is_null()) {
    if (stats->is_object()) {
      c.miner_stats = stats->get_object();
    } else {
      r.fail("miner_stats", "must be an object or null");
    }
  }
  if (!r.ok()) return r.take_error();
  if (c.status != "success" && c.status != "error") {
    return invalid_format("field 'status' must be \"success\" or \"error\"");
  }
  return c;
}

result<welcome> parse_welcome(const json::value& v) {
  const json::object* o = as_object(v);
  if (o == nullptr) return not_an_object("welcome data");
  field_reader r(*o);
  welcome w{r.string("message"), r.string("status"), r.optional_integer("uid")};
  if (!r.ok()) return r.take_error();
  return w;
}

result<error_data> parse_error_data(const json::value& v) {
  const json::object* o = as_object(v);
  if (o == nullptr) return not_an_object("error data");
  field_reader r(*o);
  error_data e{r.string("message")};
  if (!r.ok()) return r.take_error();
  return e;
}

result<void> parse_heartbeat(const json::value& v) {
  if (!v.is_object()) return not_an_object("heartbeat data");
  return {};
}

json::value to_json(const team_game_prediction& p) {
  json::object o;
  o["prediction_id"] = p.prediction_id;
  o["game_id"] = p.game_id;
  o["miner_uid"] = p.miner_uid;
  o["prediction_date"] = p.prediction_date;
  std::int64_t outcome_number = 0;
  const auto* first = p.predicted_outcome.data();
  const auto* last = first + p.predicted_outcome.size();
  if (p.predicted_outcome_is_number && std::from_chars(first, last, outcome_number).ptr == last) {
    o["predicted_outcome"] = outcome_number;
  } else {
    o["predicted_outcome"] = p.predicted_outcome;
  }
  o["predicted_odds"] = p.predicted_odds;
  o["team_a"] = p.team_a;
  o["team_b"] = p.team_b;
  o["wager"] = p.wager;
  o["team_a_odds"] = p.team_a_odds;
  o["team_b_odds"] = p.team_b_odds;
  o["tie_odds"] = optional_value(p.tie_odds);
  o["model_name"] = p.model_name ? json::value(*p.model_name) : json::value(nullptr);
  o["confidence_score"] = optional_value(p.confidence_score);
  o["outcome"] = p.outcome;
  o["payout"] = p.payout;
  return o;
}

void append_canonical(std::string& out, const team_game_prediction& p) {
  // The keys of to_json(p) in code point order, each value as append_canonical writes it.
  canonical_members m(out);
  m.optional_number("confidence_score", p.confidence_score);
  m.text("game_id", p.game_id);
  m.text("miner_uid", p.miner_uid);
  m.optional_text("model_name", p.model_name);
  m.text("outcome", p.outcome);
  m.number("payout", p.payout);
  m.number("predicted_odds", p.predicted_odds);
  std::int64_t outcome_number = 0;
  const auto* first = p.predicted_outcome.data();
  const auto* last = first + p.predicted_outcome.size();
  if (p.predicted_outcome_is_number && std::from_chars(first, last, outcome_number).ptr == last) {
    std::array<char, 24> digits{};
    const auto r = std::to_chars(digits.data(), digits.data() + digits.size(), outcome_number);
    m.key("predicted_outcome").append(digits.data(), r.ptr);
  } else {
    m.text("predicted_outcome", p.predicted_outcome);
  }
  m.text("prediction_date", p.prediction_date);
  m.text("prediction_id", p.prediction_id);
  m.text("team_a", p.team_a);
  m.number("team_a_odds", p.team_a_odds);
  m.text("team_b", p.team_b);
  m.number("team_b_odds", p.team_b_odds);
  m.optional_number("tie_odds", p.tie_odds);
  m.number("wager", p.wager);
  m.close();
}

void append_confirmation(std::string& out, std::string_view prediction_id, std::string_view status,
                         std::string_view message, std::string_view timestamp,
                         const json::object* miner_stats) {
  canonical_members m(out);
  m.text("message", message);
  if (miner_stats != nullptr) {
    // As append_canonical writes an object.
    append_canonical_without(m.key("miner_stats"), *miner_stats, {});
  }
  m.text("prediction_id", prediction_id);
  m.text("status", status);
  m.text("timestamp", timestamp);
  m.close();
}

json::value to_json(const team_game& g) {
  json::object o;
  o["game_id"] = g.game_id;
  o["team_a"] = g.team_a;
  o["team_b"] = g.team_b;
  o["sport"] = g.sport;
  o["league"] = g.league;
  o["create_date"] = g.create_date;
  o["last_update_date"] = g.last_update_date;
  o["event_start_date"] = g.event_start_date;
  o["active"] = g.active;
  o["outcome"] = g.outcome;
  o["team_a_odds"] = g.team_a_odds;
  o["team_b_odds"] = g.team_b_odds;
  o["tie_odds"] = optional_value(g.tie_odds);
  o["can_tie"] = g.can_tie;
  return o;
}

json::value to_json(const game_update& u) {
  json::array games;
  games.reserve(u.games.size());
  for (const auto& g : u.games) games.push_back(to_json(g));
  return json::object{{"games", std::move(games)}, {"timestamp", u.timestamp}};
}

json::value to_json(const confirmation& c) {
  json::object o{{"prediction_id", c.prediction_id},
                 {"status", c.status},
                 {"message", c.message},
                 {"timestamp", c.timestamp}};
  if (c.miner_stats) o["miner_stats"] = *c.miner_stats;
  return o;
}

json::value to_json(const welcome& w) {
  json::object o{{"message", w.message}, {"status", w.status}};
  if (w.uid) o["uid"] = *w.uid;
  return o;
}

json::value to_json(const error_data& e) {
  return json::object{{"message", e.message}};
}

std::optional<std::string> parse_refusal(const json::value& v) {
  const auto* o = v.if_object();
  if (o == nullptr || !o->contains("status") || o->contains("signature")) return std::nullopt;
  const auto* msg = o->if_contains("message");
  return msg && msg->is_string() ? std::string(msg->get_string()) : std::string("refused");
}

std::string_view label(frame_kind k) {
  return kind_labels.at(static_cast<std::size_t>(k));
}

frame_kind kind_of_type(std::string_view type) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(frame_kind::auth); ++i)
    if (type == kind_labels[i]) return static_cast<frame_kind>(i);
  return frame_kind::other;
}

}  // namespace bettensor::protocol
