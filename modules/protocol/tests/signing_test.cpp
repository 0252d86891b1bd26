#include <gtest/gtest.h>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/signing.hpp"
#include "bettensor/test/vectors.hpp"

namespace bettensor::protocol {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using test::str;

crypto::hotkey make_hotkey() {
  crypto::keypair kp = crypto::keypair::generate();
  return {kp, crypto::ss58_encode(kp.public_key_bytes())};
}

// The reference implementation signed these canonical texts; rebuilding the signed text from the
// parsed frame and verifying it checks our canonical writer and verifier together.
TEST(Signing, ReferenceSignedEnvelopesOpen) {
  const auto doc = test::load_vectors("sr25519.json");
  int envelopes = 0;
  int auths = 0;
  for (const auto& s : doc.at("signatures").as_array()) {
    const std::string name = str(s.at("name"));
    if (!s.at("valid").as_bool()) continue;
    const bool is_envelope = name.starts_with("envelope_");
    const bool is_auth = name.starts_with("auth_");
    if (!is_envelope && !is_auth) continue;
    SCOPED_TRACE(name);
    const std::string signed_text = str(s.at("message_utf8"));
    auto frame = parse_json(signed_text);
    ASSERT_TRUE(frame) << frame.error().message;
    EXPECT_EQ(to_canonical(*frame), signed_text);
    frame->as_object()["signature"] = s.at("signature_hex");
    const auto address = crypto::ss58_decode(str(s.at("ss58")));
    ASSERT_TRUE(address);

    const auto ts = parse_timestamp(str(frame->at("timestamp")));
    ASSERT_TRUE(ts);
    if (is_auth) {
      const auto peer = verify_auth_message(*frame, *ts + 10s);
      ASSERT_TRUE(peer) << peer.error().message;
      EXPECT_EQ(peer->key, address->key);
      ++auths;
      continue;
    }
    replay_guard nonces;
    const std::string sender = str(s.at("ss58"));
    const frame_expectations expect{sender, &address->key, *ts, 300s, &nonces};
    const std::string wire = to_canonical(*frame);
    const auto opened = open_envelope(wire, expect);
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(envelope_signing_text(opened->type, opened->sender, opened->data, opened->timestamp,
                                    opened->nonce),
              signed_text);
    // The same frame again is a replay.
    EXPECT_EQ(open_envelope(wire, expect).error().message,
              "Invalid message format: nonce already used");
    ++envelopes;
  }
  EXPECT_EQ(envelopes, 7);
  EXPECT_GE(auths, 4);
}

TEST(Signing, OwnEnvelopesRoundTrip) {
  const auto signer = make_hotkey();
  const json::value data = {{"prediction_id", "p-1"}, {"wager", 25.0}, {"team", "M\xc3\xbcnchen"}};
  const envelope e = sign_envelope(signer, message_type::prediction, data);
  const std::string wire = serialize(e);
  replay_guard nonces;
  const frame_expectations expect{signer.ss58, &signer.keypair.public_key_bytes(), now_utc(), 300s,
                                  &nonces};
  const auto opened = open_envelope(wire, expect);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->data, data);
  EXPECT_NE(wire.find("\"wager\": 25.0"), std::string::npos);  // stays a float on the wire
}

// An envelope signed from its data's text is the envelope sign_envelope makes of that data: the
// same wire text for the same nonce and timestamp, and it opens with the signer's key.
TEST(Signing, EnvelopeFromDataTextIsTheSignedEnvelopeOfThatData) {
  const auto signer = make_hotkey();
  const json::value data = {{"prediction_id", "p-1"},
                            {"status", "success"},
                            {"message", ""},
                            {"timestamp", "2026-12-07T10:00:00.5+00:00"},
                            {"n", 2.5},
                            {"miner_stats", {{"uid", "7"}, {"b", "M\xc3\xbcnchen"}}}};
  const timestamp at = now_utc();
  const std::string wire =
      sign_envelope_text(signer, message_type::confirmation, to_canonical(data), at);
  replay_guard nonces;
  const frame_expectations expect{signer.ss58, &signer.keypair.public_key_bytes(), at, 300s,
                                  &nonces};
  const auto opened = open_envelope(wire, expect);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->type, message_type::confirmation);
  EXPECT_EQ(opened->data, data);
  EXPECT_EQ(opened->timestamp, format_timestamp(at));
  EXPECT_EQ(opened->nonce.size(), 32U);
  EXPECT_EQ(
      serialize(envelope{std::string(message_type::confirmation), boost::json::string(signer.ss58),
                         data, opened->timestamp, opened->nonce, opened->signature}),
      wire);
  // A second one has a fresh nonce.
  const std::string again =
      sign_envelope_text(signer, message_type::confirmation, to_canonical(data), at);
  const auto reopened = open_envelope(again, expect);
  ASSERT_TRUE(reopened) << reopened.error().message;
  EXPECT_NE(reopened->nonce, opened->nonce);
}

TEST(Signing, EnvelopeChecksInSpecOrder) {
  const auto signer = make_hotkey();
  const auto other = make_hotkey();
  const auto now = now_utc();
  replay_guard nonces;
  const frame_expectations expect{signer.ss58, &signer.keypair.public_key_bytes(), now, 300s,
                                  &nonces};

  envelope wrong_sender = sign_envelope(other, message_type::heartbeat, json::object());
  EXPECT_EQ(verify_envelope(wrong_sender, expect).error().message,
            "Invalid message format: sender does not match the authenticated hotkey");

  envelope stale = sign_envelope(signer, message_type::heartbeat, json::object(), now - 301s);
  EXPECT_EQ(verify_envelope(stale, expect).error().message,
            "Invalid message format: stale timestamp");
  envelope future = sign_envelope(signer, message_type::heartbeat, json::object(), now + 301s);
  EXPECT_EQ(verify_envelope(future, expect).error().code, errc::stale_timestamp);

  envelope tampered = sign_envelope(signer, message_type::heartbeat, json::object(), now);
  tampered.data = json::object{{"x", 1}};
  EXPECT_EQ(verify_envelope(tampered, expect).error().message,
            "Invalid message format: invalid signature");
  // A forged frame does not burn its nonce: the genuine one still goes through.
  tampered.data = json::object();
  EXPECT_TRUE(verify_envelope(tampered, expect));

  envelope bad_sig = sign_envelope(signer, message_type::heartbeat, json::object(), now);
  bad_sig.signature = "abc";
  EXPECT_EQ(verify_envelope(bad_sig, expect).error().message,
            "Invalid message format: field 'signature' must be 128 hex digits");
  bad_sig.timestamp = "yesterday";
  EXPECT_EQ(verify_envelope(bad_sig, expect).error().message,
            "Invalid message format: field 'timestamp' must be an ISO-8601 timestamp");
}

// The form that writes over the caller's buffer gives what the returning form gives, and once
// the buffer has a frame's size, the next frame's text goes into the same memory.
TEST(Signing, CheckUnsignedIntoTheCallersBufferMatchesAndReusesIt) {
  const auto signer = make_hotkey();
  const auto now = now_utc();
  const auto address = crypto::ss58_decode(signer.ss58);
  ASSERT_TRUE(address);
  replay_guard nonces;
  const frame_expectations expect{signer.ss58, &address->key, now, 300s, &nonces};
  signature_pending kept;
  kept.text.reserve(4096);
  const char* const memory = kept.text.data();
  for (int i = 0; i < 3; ++i) {
    const envelope e =
        sign_envelope(signer, message_type::prediction,
                      json::object{{"prediction_id", "p-" + std::to_string(i)}}, now);
    const auto returned = check_unsigned(e, expect);
    ASSERT_TRUE(returned) << returned.error().message;
    ASSERT_TRUE(check_unsigned(e, expect, kept));
    EXPECT_EQ(kept.text, returned->text);
    EXPECT_EQ(kept.text, envelope_signing_text(e.type, e.sender, e.data, e.timestamp, e.nonce));
    EXPECT_EQ(kept.sig, returned->sig);
    EXPECT_EQ(kept.time, returned->time);
    EXPECT_EQ(kept.text.data(), memory);
  }
  envelope stale = sign_envelope(signer, message_type::heartbeat, json::object(), now - 301s);
  EXPECT_EQ(check_unsigned(stale, expect, kept).error().message,
            check_unsigned(stale, expect).error().message);
  envelope bad_sig = sign_envelope(signer, message_type::heartbeat, json::object(), now);
  bad_sig.signature = "abc";
  EXPECT_EQ(check_unsigned(bad_sig, expect, kept).error().message,
            "Invalid message format: field 'signature' must be 128 hex digits");
}

TEST(Signing, AuthMessageRefusalsUseSpecTexts) {
  const auto signer = make_hotkey();
  const auto now = now_utc();
  const json::object good = make_auth_message(signer, now);
  ASSERT_TRUE(verify_auth_message(good, now));

  EXPECT_EQ(verify_auth_message(make_auth_message(signer, now - 301s), now).error().message,
            "Not authorized: stale timestamp");

  json::object tampered = good;
  tampered["nonce"] = "other";
  EXPECT_EQ(verify_auth_message(tampered, now).error().message,
            "Not authorized: invalid signature");

  json::object extra = good;  // any extra key is covered by the signature
  extra["uid"] = 3;
  EXPECT_EQ(verify_auth_message(extra, now).error().message, "Not authorized: invalid signature");

  json::object bad_hotkey = good;
  bad_hotkey["hotkey"] = "0x1234";
  EXPECT_TRUE(
      verify_auth_message(bad_hotkey, now)
          .error()
          .message.starts_with("Invalid message format: field 'hotkey' is not a valid SS58"));
  json::object missing = good;
  missing.erase("nonce");
  EXPECT_EQ(verify_auth_message(missing, now).error().message,
            "Invalid message format: field 'nonce' is missing");
  EXPECT_EQ(verify_auth_message(json::value("text"), now).error().message,
            "Invalid message format: authentication message must be a JSON object");
}

TEST(Signing, BytesWrappedAuthSignatureIsAccepted) {
  // polkadot-js extensions sign "<Bytes>" + text + "</Bytes>"; Bittensor accepts that.
  const auto signer = make_hotkey();
  const auto now = now_utc();
  json::object auth{{"hotkey", signer.ss58}, {"timestamp", format_timestamp(now)}, {"nonce", "1"}};
  const std::string text = "<Bytes>" + to_canonical(auth) + "</Bytes>";
  auth["signature"] = crypto::to_hex(signer.keypair.sign(crypto::as_bytes(text)));
  EXPECT_TRUE(verify_auth_message(auth, now));
}

}  // namespace
}  // namespace bettensor::protocol
