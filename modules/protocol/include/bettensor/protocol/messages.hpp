// Message types of the Bettensor WebSocket channel (SPEC.md section 5) and their JSON forms.
// Parsing never throws: a hostile value gives an error naming the field and the problem.
#pragma once

#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bettensor/protocol/error.hpp"

namespace bettensor::protocol {

namespace message_type {
inline constexpr std::string_view prediction = "prediction";
inline constexpr std::string_view confirmation = "confirmation";
inline constexpr std::string_view game_update = "game_update";
inline constexpr std::string_view heartbeat = "heartbeat";
inline constexpr std::string_view heartbeat_ack = "heartbeat_ack";
inline constexpr std::string_view heartbeat_response = "heartbeat_response";
inline constexpr std::string_view welcome = "welcome";
inline constexpr std::string_view error = "error";
}  // namespace message_type

/// What a frame is: an envelope type, or the handshake frame and its refusal. Metric labels and
/// send priorities are taken from it, never read back from a frame's serialised text.
enum class frame_kind : std::uint8_t {
  prediction,
  confirmation,
  game_update,
  heartbeat,
  heartbeat_ack,
  heartbeat_response,
  welcome,
  error,
  auth,     // the miner's first frame
  refusal,  // {"status": "error", "message": ...}, the answer to a refused handshake
  other,
  count_
};
inline constexpr std::size_t frame_kind_count = static_cast<std::size_t>(frame_kind::count_);

/// "prediction", ..., "auth", "refusal", "other": the type label of metrics.
std::string_view label(frame_kind k);
/// The kind an envelope's `type` names; other for any other text (a peer cannot claim "auth" or
/// "refusal", which are not envelope types).
frame_kind kind_of_type(std::string_view type);

/// The miner's first frame: {"hotkey", "timestamp", "nonce", "signature"}, signed over the
/// canonical text of every key but "signature".
struct auth_message {
  std::string hotkey;
  std::string timestamp;
  std::string nonce;
  std::string signature;
};

/// Every later frame: {"type", "sender", "data", "timestamp", "nonce", "signature"}, signed over
/// the first five. A parsed envelope's fields stay in the memory its frame was parsed into (the
/// four long texts are JSON strings for that reason: moved out of the document, not copied).
struct envelope {
  std::string type;
  boost::json::string sender;
  boost::json::value data;
  boost::json::string timestamp;
  boost::json::string nonce;
  boost::json::string signature;
};

/// TeamGamePrediction as Bettensor's protocol.py defines it (miner_uid is a string). Every member
/// has a default, so a value can be built with designated initializers that name only some.
struct team_game_prediction {
  std::string prediction_id{};
  std::string game_id{};
  std::string miner_uid{};
  std::string prediction_date{};
  std::string predicted_outcome{};  // team_a, team_b or "Tie"; 0/1/2 arrive as numbers
  bool predicted_outcome_is_number = false;
  double predicted_odds = 0;
  std::string team_a{};
  std::string team_b{};
  double wager = 0;
  double team_a_odds = 0;
  double team_b_odds = 0;
  std::optional<double> tie_odds{};
  std::optional<std::string> model_name{};
  std::optional<double> confidence_score{};
  std::string outcome = "Unfinished";
  double payout = 0;
};

/// TeamGame (members defaulted, as above).
struct team_game {
  std::string game_id{};
  std::string team_a{};
  std::string team_b{};
  std::string sport{};
  std::string league{};
  std::string create_date{};
  std::string last_update_date{};
  std::string event_start_date{};
  bool active = true;
  std::string outcome = "Unfinished";
  double team_a_odds = 0;
  double team_b_odds = 0;
  std::optional<double> tie_odds{};
  bool can_tie = false;
};

struct game_update {
  std::vector<team_game> games;
  std::string timestamp;
};

struct confirmation {
  std::string prediction_id;
  std::string status;  // "success" | "error"
  std::string message;
  std::string timestamp;
  std::optional<boost::json::object> miner_stats;
};

struct welcome {
  std::string message = "Connection established";
  std::string status = "success";
  /// Ours sends the miner's uid; the reference Python validator sends none.
  std::optional<std::int64_t> uid;
};

struct error_data {
  std::string message;
};

// Parsing. `v` is the whole frame (auth, envelope) or the envelope's data (the others).
result<auth_message> parse_auth_message(const boost::json::value& v);
result<envelope> parse_envelope(boost::json::value&& v);
result<team_game_prediction> parse_prediction(const boost::json::value& v);
result<team_game> parse_team_game(const boost::json::value& v);
result<game_update> parse_game_update(const boost::json::value& v);
result<confirmation> parse_confirmation(const boost::json::value& v);
result<welcome> parse_welcome(const boost::json::value& v);
/// The validator's answer to a refused handshake, {"status": "error", "message": M}, which is
/// not an envelope (no signature): M ("refused" when it has none), or nullopt for any other frame.
std::optional<std::string> parse_refusal(const boost::json::value& v);
result<error_data> parse_error_data(const boost::json::value& v);
/// Heartbeat data is an object (Python sends {}); extra keys are ignored.
result<void> parse_heartbeat(const boost::json::value& v);

// Serialisation to the data object of an envelope (floats stay floats: 25.0, not 25).
boost::json::value to_json(const team_game_prediction& p);
boost::json::value to_json(const team_game& g);
boost::json::value to_json(const game_update& u);
boost::json::value to_json(const confirmation& c);
boost::json::value to_json(const welcome& w);
boost::json::value to_json(const error_data& e);

/// Appends to_canonical(to_json(p)), byte for byte, written field by field without building the
/// object: a prediction's stored copy, made once per prediction on the storage thread.
void append_canonical(std::string& out, const team_game_prediction& p);
/// Appends to_canonical(to_json(c)) the same way for the confirmation c of these parts, without
/// copying them into one: each confirmation's data.
void append_confirmation(std::string& out, std::string_view prediction_id, std::string_view status,
                         std::string_view message, std::string_view timestamp,
                         const boost::json::object* miner_stats);

}  // namespace bettensor::protocol
