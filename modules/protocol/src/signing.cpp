#include "bettensor/protocol/signing.hpp"

#include <array>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"

namespace bettensor::protocol {

namespace json = boost::json;

namespace {

constexpr std::size_t signature_hex_chars = crypto::signature_size * 2;

// Envelope keys in code point order: data, nonce, sender, [signature,] timestamp, type. The
// caller has written the data's member.
void append_envelope_rest(canonical_members& m, std::string_view type, std::string_view sender,
                          std::string_view ts, std::string_view nonce, std::string_view sig_hex) {
  m.text("nonce", nonce);
  m.text("sender", sender);
  if (!sig_hex.empty()) m.text("signature", sig_hex);
  m.text("timestamp", ts);
  m.text("type", type);
  m.close();
}

void append_envelope_text(std::string& out, std::string_view type, std::string_view sender,
                          const json::value& data, std::string_view ts, std::string_view nonce,
                          std::string_view sig_hex) {
  canonical_members m(out);
  append_canonical(m.key("data"), data);
  append_envelope_rest(m, type, sender, ts, nonce, sig_hex);
}

std::string envelope_text(std::string_view type, std::string_view sender, const json::value& data,
                          std::string_view ts, std::string_view nonce, std::string_view sig_hex) {
  std::string out;
  out.reserve(1024);  // a prediction's text (about 700 bytes) without growing
  append_envelope_text(out, type, sender, data, ts, nonce, sig_hex);
  return out;
}

bool decode_signature(std::string_view hex, crypto::signature& out) {
  if (hex.starts_with("0x")) hex.remove_prefix(2);
  return hex.size() == signature_hex_chars && crypto::from_hex_exact(hex, out);
}

}  // namespace

std::string make_nonce() {
  std::array<std::uint8_t, 16> r{};
  crypto::pooled_random_bytes(r);  // one per confirmation: not a system call each
  return crypto::to_hex(r);
}

std::string envelope_signing_text(std::string_view type, std::string_view sender,
                                  const json::value& data, std::string_view ts,
                                  std::string_view nonce) {
  return envelope_text(type, sender, data, ts, nonce, {});
}

envelope sign_envelope(const crypto::hotkey& signer, std::string_view type, json::value data,
                       timestamp now) {
  envelope e{std::string(type),
             json::string(signer.ss58),
             std::move(data),
             json::string(format_timestamp(now)),
             json::string(make_nonce()),
             {}};
  const std::string text = envelope_signing_text(e.type, e.sender, e.data, e.timestamp, e.nonce);
  e.signature = crypto::to_hex(signer.keypair.sign(crypto::as_bytes(text)));
  return e;
}

std::string sign_envelope_text(const crypto::hotkey& signer, std::string_view type,
                               std::string_view data_text, timestamp now) {
  // The signed text, the timestamp and the hex digits in buffers kept by the thread: the wire
  // text is the one string this allocates.
  thread_local std::string text;
  thread_local std::string ts;
  thread_local std::string digits;  // the nonce's 32, then the signature's 128
  ts.clear();
  append_timestamp(ts, now);
  std::array<std::uint8_t, 16> r{};
  crypto::pooled_random_bytes(r);
  digits.clear();
  crypto::append_hex(digits, r);
  const std::size_t nonce_size = digits.size();
  text.clear();
  canonical_members signed_members(text);
  signed_members.key("data").append(data_text);
  append_envelope_rest(signed_members, type, signer.ss58, ts, digits, {});
  crypto::append_hex(digits, signer.keypair.sign(crypto::as_bytes(text)));
  const std::string_view hex = digits;
  std::string out;
  out.reserve(text.size() + hex.size() + 20);
  canonical_members members(out);
  members.key("data").append(data_text);
  append_envelope_rest(members, type, signer.ss58, ts, hex.substr(0, nonce_size),
                       hex.substr(nonce_size));
  return out;
}

std::string serialize(const envelope& e) {
  return envelope_text(e.type, e.sender, e.data, e.timestamp, e.nonce, e.signature);
}

json::object make_auth_message(const crypto::hotkey& signer, timestamp now) {
  json::object o{
      {"hotkey", signer.ss58}, {"timestamp", format_timestamp(now)}, {"nonce", make_nonce()}};
  const std::string text = to_canonical(o);
  o["signature"] = crypto::to_hex(signer.keypair.sign(crypto::as_bytes(text)));
  return o;
}

std::string serialize(const json::object& auth) {
  return to_canonical(auth);
}

result<authenticated_peer> verify_auth_message(const json::value& frame, timestamp now,
                                               std::chrono::seconds window) {
  auto msg = parse_auth_message(frame);
  if (!msg) return msg.error();
  const auto address = crypto::ss58_decode(msg->hotkey);
  if (!address) {
    return invalid_format("field 'hotkey' is not a valid SS58 address (" +
                          address.error().message() + ")");
  }
  const auto ts = parse_timestamp(msg->timestamp);
  if (!ts) return invalid_format("field 'timestamp' must be an ISO-8601 timestamp");
  crypto::signature sig{};
  if (!decode_signature(msg->signature, sig)) {
    return invalid_format("field 'signature' must be 128 hex digits");
  }
  if (msg->nonce.empty()) return invalid_format("field 'nonce' must not be empty");
  if (!within_window(*ts, now, window)) return auth_error(errc::stale_timestamp);

  std::string text;
  append_canonical_without(text, frame.get_object(), "signature");
  if (!crypto::verify_bittensor(crypto::as_bytes(text), sig, address->key)) {
    return auth_error(errc::invalid_signature);
  }
  return authenticated_peer{std::move(msg->hotkey), address->key, *ts};
}

result<void> check_unsigned(const envelope& e, const frame_expectations& expect,
                            signature_pending& out) {
  if (e.sender != expect.sender) return frame_error(errc::sender_mismatch);
  const auto ts = parse_timestamp(e.timestamp);
  if (!ts) return invalid_format("field 'timestamp' must be an ISO-8601 timestamp");
  out.time = *ts;
  if (!decode_signature(e.signature, out.sig)) {
    return invalid_format("field 'signature' must be 128 hex digits");
  }
  if (!within_window(*ts, expect.now, expect.window)) return frame_error(errc::stale_timestamp);
  if (expect.nonces != nullptr) {
    if (auto fresh = expect.nonces->check(e.sender, e.nonce, expect.now); !fresh) {
      return fresh.error();
    }
  }
  out.text.clear();
  append_envelope_text(out.text, e.type, e.sender, e.data, e.timestamp, e.nonce, {});
  return {};
}

result<signature_pending> check_unsigned(const envelope& e, const frame_expectations& expect) {
  signature_pending p;
  p.text.reserve(1024);  // as envelope_text
  if (auto checked = check_unsigned(e, expect, p); !checked) return checked.error();
  return p;
}

result<void> accept_signed(const envelope& e, const signature_pending& p,
                           const frame_expectations& expect) {
  if (expect.nonces != nullptr) {
    // Recorded only now, so a forged frame cannot burn a nonce. A racing duplicate of the same
    // frame is still caught here.
    return expect.nonces->check_and_record(e.sender, e.nonce, p.time, expect.now);
  }
  return {};
}

result<void> verify_envelope(const envelope& e, const frame_expectations& expect) {
  auto p = check_unsigned(e, expect);
  if (!p) return p.error();
  const auto text = crypto::as_bytes(p->text);
  const bool good =
      expect.prepared != nullptr && expect.key != nullptr && expect.prepared->bytes() == *expect.key
          ? crypto::verify_bittensor(text, p->sig, *expect.prepared)
          : expect.key != nullptr && crypto::verify_bittensor(text, p->sig, *expect.key);
  if (!good) return frame_error(errc::invalid_signature);
  return accept_signed(e, *p, expect);
}

result<envelope> open_envelope(std::string_view text, const frame_expectations& expect) {
  auto doc = parse_json(text);
  if (!doc) return doc.error();
  auto e = parse_envelope(std::move(*doc));
  if (!e) return e.error();
  if (auto ok = verify_envelope(*e, expect); !ok) return ok.error();
  return e;
}

}  // namespace bettensor::protocol
