#include <gtest/gtest.h>

#include <boost/json/monotonic_resource.hpp>

#include <limits>
#include <random>

#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/messages.hpp"

namespace bettensor::protocol {
namespace {

namespace json = boost::json;

const char* const prediction_json = R"({
  "prediction_id": "8b2f4e0a-6c1d-4e7b-9f3a-2d5c7e9b1a04", "game_id": "nfl-2026-w13-kc-lv",
  "miner_uid": "7", "prediction_date": "2026-11-29T19:59:58.765432+00:00",
  "predicted_outcome": "Kansas City Chiefs", "predicted_odds": 1.45,
  "team_a": "Kansas City Chiefs", "team_b": "Las Vegas Raiders", "wager": 25.0,
  "team_a_odds": 1.45, "team_b_odds": 2.8, "tie_odds": 0.0, "model_name": "default",
  "confidence_score": 0.5, "outcome": "Unfinished", "payout": 0.0})";

json::value parsed(const char* text) {
  auto v = parse_json(text);
  EXPECT_TRUE(v);
  return v ? *v : json::value();
}

TEST(Messages, PredictionRoundTripsToTheSameCanonicalText) {
  const json::value v = parsed(prediction_json);
  const auto p = parse_prediction(v);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->wager, 25.0);
  EXPECT_EQ(p->miner_uid, "7");
  EXPECT_EQ(p->tie_odds, 0.0);
  EXPECT_EQ(to_canonical(to_json(*p)), to_canonical(v));
}

// The stored copy written field by field is the text of the JSON object, whatever the fields
// hold: escapes, invalid UTF-8, Python's float forms, absent optionals, numeric outcomes.
TEST(Messages, PredictionWrittenDirectlyIsItsCanonicalText) {
  const auto from_object = [](const team_game_prediction& p) { return to_canonical(to_json(p)); };
  const auto direct = [](const team_game_prediction& p) {
    std::string out = "prefix ";  // appends
    append_canonical(out, p);
    return out.substr(7);
  };
  const auto reference = parse_prediction(parsed(prediction_json));
  ASSERT_TRUE(reference);
  EXPECT_EQ(direct(*reference), from_object(*reference));

  const std::vector<std::string> texts = {"",
                                          "Tie",
                                          "a\"b\\c\n\t\x01",
                                          "\xc3\xa9t\xc3\xa9",
                                          "\xf0\x9f\x8f\x88 emoji",
                                          "\xff\xfe",
                                          "0",
                                          "2",
                                          "-1",
                                          "01",
                                          "2x",
                                          " 1",
                                          "99999999999999999999"};
  const std::vector<double> numbers = {0.0,
                                       -0.0,
                                       1.0,
                                       25.5,
                                       1e16,
                                       1e-5,
                                       0.0001,
                                       123456789.125,
                                       std::numeric_limits<double>::infinity(),
                                       -std::numeric_limits<double>::infinity(),
                                       std::numeric_limits<double>::quiet_NaN(),
                                       std::numeric_limits<double>::denorm_min(),
                                       std::numeric_limits<double>::max()};
  std::mt19937_64 rng(17);
  const auto text = [&] { return texts[rng() % texts.size()]; };
  const auto number = [&] {
    return rng() % 3 == 0 ? numbers[rng() % numbers.size()]
                          : std::uniform_real_distribution<double>(-1e6, 1e6)(rng);
  };
  for (int i = 0; i < 2000; ++i) {
    team_game_prediction p;
    p.prediction_id = text();
    p.game_id = text();
    p.miner_uid = text();
    p.prediction_date = text();
    p.predicted_outcome = text();
    p.predicted_outcome_is_number = rng() % 2 == 0;
    p.predicted_odds = number();
    p.team_a = text();
    p.team_b = text();
    p.wager = number();
    p.team_a_odds = number();
    p.team_b_odds = number();
    if (rng() % 2 == 0) p.tie_odds = number();
    if (rng() % 2 == 0) p.model_name = text();
    if (rng() % 2 == 0) p.confidence_score = number();
    p.outcome = text();
    p.payout = number();
    ASSERT_EQ(direct(p), from_object(p)) << "case " << i;
  }
}

TEST(Messages, ConfirmationWrittenFromItsPartsIsItsCanonicalText) {
  const json::object stats = {
      {"miner_uid", "7"}, {"miner_rank", "3"}, {"z", "\xc3\xa9"}, {"a\"b", "x"}};
  for (const std::string message : {"", "Prediction rejected: \"x\"\n", "\xff"}) {
    for (const bool with_stats : {false, true}) {
      confirmation c{"8b2f4e0a-6c1d", message.empty() ? "success" : "error", message,
                     "2026-12-07T10:00:00.123456+00:00", std::nullopt};
      if (with_stats) c.miner_stats = stats;
      std::string out;
      append_confirmation(out, c.prediction_id, c.status, c.message, c.timestamp,
                          with_stats ? &stats : nullptr);
      EXPECT_EQ(out, to_canonical(to_json(c))) << message << " " << with_stats;
    }
  }
}

TEST(Messages, PredictionErrorsNameTheField) {
  struct bad_case {
    std::string field;
    json::value value;
    std::string message;
  };
  const std::vector<bad_case> cases = {
      {"wager", "ten", "Invalid message format: field 'wager' must be a number"},
      {"wager", nullptr, "Invalid message format: field 'wager' must be a number"},
      {"team_a", nullptr, "Invalid message format: field 'team_a' must be a string"},
      {"miner_uid", 7, "Invalid message format: field 'miner_uid' must be a string"},
      {"tie_odds", "x", "Invalid message format: field 'tie_odds' must be a number or null"},
      {"predicted_outcome", 1.5,
       "Invalid message format: field 'predicted_outcome' must be a string or an integer"},
      {"prediction_id", "", "Invalid message format: field 'prediction_id' must not be empty"},
  };
  for (const auto& c : cases) {
    json::value v = parsed(prediction_json);
    v.as_object()[c.field] = c.value;
    const auto p = parse_prediction(v);
    ASSERT_FALSE(p) << c.field;
    EXPECT_EQ(p.error().message, c.message);
  }
  json::value missing = parsed(prediction_json);
  missing.as_object().erase("game_id");
  EXPECT_EQ(parse_prediction(missing).error().message,
            "Invalid message format: field 'game_id' is missing");
  EXPECT_EQ(parse_prediction(json::array()).error().message,
            "Invalid message format: prediction data must be a JSON object");
}

TEST(Messages, PredictedOutcomeMayBeANumber) {
  json::value v = parsed(prediction_json);
  v.as_object()["predicted_outcome"] = 2;
  const auto p = parse_prediction(v);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->predicted_outcome, "2");
  EXPECT_EQ(to_json(*p).at("predicted_outcome"), json::value(2));
}

TEST(Messages, GameUpdateWithNestedErrorIndex) {
  const json::value v = parsed(R"({"games": [{"game_id": "g-1", "team_a": "A", "team_b": "B",
      "sport": "soccer", "league": "EPL", "create_date": "2026-11-20T10:00:00+00:00",
      "last_update_date": "2026-11-29T19:51:00.5+00:00", "event_start_date": "2026-11-30T18:30:00+00:00",
      "active": true, "outcome": "Unfinished", "team_a_odds": 2.1, "team_b_odds": 3.4,
      "tie_odds": 3.25, "can_tie": true}], "timestamp": "2026-11-29T20:00:00+00:00"})");
  const auto u = parse_game_update(v);
  ASSERT_TRUE(u) << u.error().message;
  ASSERT_EQ(u->games.size(), 1u);
  EXPECT_EQ(u->games[0].tie_odds, 3.25);
  EXPECT_EQ(to_canonical(to_json(*u)), to_canonical(v));

  json::value bad = v;
  bad.as_object()["games"].as_array()[0].as_object()["active"] = "yes";
  EXPECT_EQ(parse_game_update(bad).error().message,
            "Invalid message format: field 'active' must be a boolean (games[0])");
}

TEST(Messages, ConfirmationWelcomeErrorHeartbeat) {
  const auto c = parse_confirmation(parsed(
      R"({"prediction_id": "p", "status": "success", "message": "", "timestamp": "t",
          "miner_stats": {"miner_uid": 7}})"));
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->miner_stats);
  EXPECT_FALSE(parse_confirmation(parsed(R"({"prediction_id": "p", "status": "maybe"})")));

  const auto w = parse_welcome(
      parsed(R"({"message": "Connection established", "status": "success", "uid": 7})"));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->uid, std::optional<std::int64_t>(7));
  EXPECT_EQ(to_canonical(to_json(*w)),
            R"({"message": "Connection established", "status": "success", "uid": 7})");
  EXPECT_FALSE(parse_welcome(parsed(R"({"message": "x", "status": "success", "uid": "7"})")));
  // The reference Python validator's welcome carries no uid; extra keys are ignored.
  const auto reference = parse_welcome(
      parsed(R"({"message": "Connection established", "status": "success", "extra": [1]})"));
  ASSERT_TRUE(reference) << reference.error().message;
  EXPECT_FALSE(reference->uid);
  EXPECT_EQ(to_canonical(to_json(*reference)),
            R"({"message": "Connection established", "status": "success"})");
  EXPECT_TRUE(parse_welcome(parsed(R"({"message": "x", "status": "success", "uid": null})")));

  EXPECT_TRUE(parse_error_data(parsed(R"({"message": "boom"})")));
  EXPECT_TRUE(parse_heartbeat(parsed("{}")));
  EXPECT_FALSE(parse_heartbeat(parsed("[]")));
}

TEST(Messages, EnvelopeFieldsMustBePresentAndTyped) {
  const char* good = R"({"type": "heartbeat", "sender": "s", "data": {}, "timestamp": "t",
                        "nonce": "n", "signature": "sig", "extra": 1})";
  EXPECT_TRUE(parse_envelope(parsed(good)));
  for (const char* field : {"type", "sender", "data", "timestamp", "nonce", "signature"}) {
    json::value v = parsed(good);
    v.as_object().erase(field);
    const auto e = parse_envelope(std::move(v));
    ASSERT_FALSE(e) << field;
    EXPECT_EQ(e.error().message,
              std::string("Invalid message format: field '") + field + "' is missing");
  }
  json::value v = parsed(good);
  v.as_object()["data"] = "text";
  EXPECT_EQ(parse_envelope(std::move(v)).error().message,
            "Invalid message format: field 'data' must be an object");
}

TEST(Messages, AParsedEnvelopeKeepsItsTextsInTheMemoryItWasParsedInto) {
  // Longer than a string's inline buffer, so a copy would have to allocate.
  const std::string sender(48, 's');
  const std::string nonce(32, 'n');
  const std::string signature = "0x" + std::string(128, 'a');
  const std::string timestamp = "2026-12-08T03:30:00.123456+00:00";
  const std::string text = R"({"type": "prediction", "sender": ")" + sender +
                           R"(", "data": {"k": "v"}, "timestamp": ")" + timestamp +
                           R"(", "nonce": ")" + nonce + R"(", "signature": ")" + signature + "\"}";
  const auto arena = json::make_shared_resource<json::monotonic_resource>();
  auto doc = parse_json(text, {}, arena);
  ASSERT_TRUE(doc) << doc.error().message;
  const auto e = parse_envelope(std::move(*doc));
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->type, "prediction");
  EXPECT_EQ(e->sender, sender);
  EXPECT_EQ(e->timestamp, timestamp);
  EXPECT_EQ(e->nonce, nonce);
  EXPECT_EQ(e->signature, signature);
  EXPECT_EQ(e->data, (json::object{{"k", "v"}}));
  for (const json::string* field : {&e->sender, &e->timestamp, &e->nonce, &e->signature})
    EXPECT_EQ(field->storage().get(), arena.get()) << *field;
  EXPECT_EQ(e->data.storage().get(), arena.get());
}

TEST(Refusal, IsTheUnsignedStatusAnswerAndNothingElse) {
  const auto parse = [](std::string_view text) {
    auto v = parse_json(text);
    return v ? parse_refusal(*v) : std::nullopt;
  };
  EXPECT_EQ(parse(R"({"status": "error", "message": "Not authorized: blacklisted"})"),
            "Not authorized: blacklisted");
  EXPECT_EQ(parse(R"({"status": "error"})"), "refused");
  EXPECT_EQ(parse(R"({"status": "error", "message": 7})"), "refused");
  EXPECT_EQ(parse(R"({"status": "x", "signature": "ab"})"), std::nullopt);  // signed: not one
  EXPECT_EQ(parse(R"({"type": "welcome", "data": {}})"), std::nullopt);
  EXPECT_EQ(parse(R"([1, 2])"), std::nullopt);
}

// An envelope's type names its kind; the handshake frame and the refusal are kinds no peer can
// claim by a type.
TEST(FrameKind, TypesNameTheirKindAndLabels) {
  EXPECT_EQ(kind_of_type("confirmation"), frame_kind::confirmation);
  EXPECT_EQ(kind_of_type("heartbeat_response"), frame_kind::heartbeat_response);
  EXPECT_EQ(kind_of_type("something_new"), frame_kind::other);
  EXPECT_EQ(kind_of_type("auth"), frame_kind::other);
  EXPECT_EQ(kind_of_type("refusal"), frame_kind::other);
  for (std::size_t i = 0; i < static_cast<std::size_t>(frame_kind::auth); ++i) {
    const auto k = static_cast<frame_kind>(i);
    EXPECT_EQ(kind_of_type(label(k)), k) << label(k);
  }
  EXPECT_EQ(label(frame_kind::refusal), "refusal");
  EXPECT_EQ(label(frame_kind::other), "other");
}

}  // namespace
}  // namespace bettensor::protocol
