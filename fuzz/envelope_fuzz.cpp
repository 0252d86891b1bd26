// Fuzzes everything a validator does with a received text frame before any handler runs: strict
// JSON parsing, the handshake checks, envelope field checks, signature and nonce checks, and the
// typed parsers. Invariant: any value that parses prints to a canonical text that parses back to
// the same value and the same text.
#include <cstdlib>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/messages.hpp"
#include "bettensor/protocol/signing.hpp"

using namespace bettensor;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const crypto::keypair kp =
      crypto::keypair::from_mini_secret(std::array<std::uint8_t, 32>{7});
  static const std::string sender = crypto::ss58_encode(kp.public_key_bytes());
  static protocol::replay_guard nonces;
  const auto now = protocol::parse_timestamp("2026-11-29T20:00:00+00:00").value();

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = protocol::parse_json(text);
  if (!doc) return 0;

  const std::string canonical = protocol::to_canonical(*doc);
  const auto again = protocol::parse_json(canonical);
  if (!again || *again != *doc || protocol::to_canonical(*again) != canonical) std::abort();

  (void)protocol::verify_auth_message(*doc, now);
  auto env = protocol::parse_envelope(boost::json::value(*doc));
  if (!env) return 0;
  const protocol::frame_expectations expect{sender, &kp.public_key_bytes(), now,
                                            std::chrono::seconds(300), &nonces};
  (void)protocol::verify_envelope(*env, expect);
  (void)protocol::parse_prediction(env->data);
  (void)protocol::parse_game_update(env->data);
  (void)protocol::parse_confirmation(env->data);
  (void)protocol::parse_welcome(env->data);
  (void)protocol::parse_error_data(env->data);
  return 0;
}
