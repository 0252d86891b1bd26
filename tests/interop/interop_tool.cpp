// Helper for the polkadot-js cross-check (crosscheck.mjs).
//   bettensor-interop sign N   prints N signatures made by our code, as a JSON array
//   bettensor-interop verify   reads signatures made elsewhere (JSON array on stdin) and prints
//                              our verdict and derived keys for each, as a JSON array
#include <boost/json.hpp>

#include <iostream>
#include <iterator>
#include <random>
#include <string>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/protocol/messages.hpp"
#include "bettensor/protocol/signing.hpp"

namespace json = boost::json;
using namespace bettensor;

namespace {

// Messages of the kinds the channel signs: canonical envelopes (with non-ASCII text) and raw bytes.
std::vector<std::uint8_t> random_message(std::mt19937_64& rng, const crypto::hotkey& key) {
  if (rng() % 2 == 0) {
    protocol::team_game_prediction p;
    p.prediction_id = protocol::make_nonce();
    p.game_id = "g-" + std::to_string(rng() % 10000);
    p.miner_uid = std::to_string(rng() % 256);
    p.prediction_date = protocol::format_timestamp(protocol::now_utc());
    p.team_a = "M\xc3\xbcnchen \xe2\x9a\xbd";
    p.team_b = "Team \xf0\x9f\x98\x80";
    p.predicted_outcome = p.team_a;
    p.wager = static_cast<double>(rng() % 10000) / 100.0;
    p.predicted_odds = p.team_a_odds = 1.0 + static_cast<double>(rng() % 500) / 100.0;
    p.team_b_odds = 2.0;
    const auto env =
        protocol::sign_envelope(key, protocol::message_type::prediction, protocol::to_json(p));
    const std::string text =
        protocol::envelope_signing_text(env.type, env.sender, env.data, env.timestamp, env.nonce);
    return {text.begin(), text.end()};
  }
  std::vector<std::uint8_t> m(rng() % 400);
  for (auto& b : m) b = static_cast<std::uint8_t>(rng());
  return m;
}

int sign(int n) {
  std::mt19937_64 rng(std::random_device{}());
  json::array out;
  for (int i = 0; i < n; ++i) {
    crypto::mini_secret seed{};
    const crypto::keypair kp = crypto::keypair::generate(&seed);
    const crypto::hotkey key{kp, crypto::ss58_encode(kp.public_key_bytes())};
    const auto msg = random_message(rng, key);
    out.push_back(json::object{{"seed_hex", crypto::to_hex(seed)},
                               {"public_key_hex", crypto::to_hex(kp.public_key_bytes())},
                               {"ss58", key.ss58},
                               {"message_hex", crypto::to_hex(msg)},
                               {"signature_hex", crypto::to_hex(kp.sign(msg))}});
  }
  std::cout << json::serialize(out) << '\n';
  return 0;
}

int verify() {
  const std::string input{std::istreambuf_iterator<char>(std::cin), {}};
  json::array out;
  const json::value doc = json::parse(input);
  for (const auto& item : doc.as_array()) {
    const auto& o = item.as_object();
    const auto msg = crypto::from_hex(std::string_view(o.at("message_hex").as_string()));
    const auto sig = crypto::from_hex(std::string_view(o.at("signature_hex").as_string()));
    const auto key = crypto::from_hex(std::string_view(o.at("public_key_hex").as_string()));
    const auto seed = crypto::from_hex(std::string_view(o.at("seed_hex").as_string()));
    if (!msg || !sig || !key || !seed || seed->size() != 32) return 2;
    const auto kp =
        crypto::keypair::from_mini_secret(std::span<const std::uint8_t, 32>(seed->data(), 32));
    const auto decoded = crypto::ss58_decode(std::string_view(o.at("ss58").as_string()));
    out.push_back(json::object{
        {"valid", crypto::verify(*msg, *sig, *key)},
        {"derived_public_key_hex", crypto::to_hex(kp.public_key_bytes())},
        {"ss58_decodes_to_key", decoded && crypto::to_hex(decoded->key) == crypto::to_hex(*key)}});
  }
  std::cout << json::serialize(out) << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "sign" && argc == 3) return sign(std::stoi(argv[2]));
  if (mode == "verify" && argc == 2) return verify();
  std::cerr << "usage: bettensor-interop sign N | verify < signatures.json\n";
  return 2;
}
