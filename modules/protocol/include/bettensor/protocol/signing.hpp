// Signing and checking of the handshake and of envelopes over their canonical text.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include "bettensor/crypto/sr25519.hpp"
#include "bettensor/crypto/wallet.hpp"
#include "bettensor/protocol/error.hpp"
#include "bettensor/protocol/messages.hpp"
#include "bettensor/protocol/replay_guard.hpp"
#include "bettensor/protocol/timestamp.hpp"

namespace bettensor::protocol {

/// A fresh nonce: 32 random hex digits.
std::string make_nonce();

/// The canonical text an envelope is signed over: its five fields other than "signature".
std::string envelope_signing_text(std::string_view type, std::string_view sender,
                                  const boost::json::value& data, std::string_view timestamp,
                                  std::string_view nonce);

/// Builds and signs an envelope from `signer`, stamped with `now` and a fresh nonce.
envelope sign_envelope(const crypto::hotkey& signer, std::string_view type, boost::json::value data,
                       timestamp now = now_utc());

/// The wire text of an envelope from `signer` whose data has the canonical text `data_text`,
/// signed and stamped as sign_envelope does: the text serialize(sign_envelope(...)) gives for
/// that data, built without JSON objects (each confirmation is one).
std::string sign_envelope_text(const crypto::hotkey& signer, std::string_view type,
                               std::string_view data_text, timestamp now = now_utc());

/// The wire text of an envelope: the canonical text of all six fields (any key order is valid
/// on the wire; the canonical one keeps floats in Python's form).
std::string serialize(const envelope& e);

/// Builds and signs the miner's first frame.
boost::json::object make_auth_message(const crypto::hotkey& signer, timestamp now = now_utc());

/// The wire text of an authentication message.
std::string serialize(const boost::json::object& auth);

/// A checked handshake.
struct authenticated_peer {
  std::string hotkey;
  crypto::public_key key{};
  timestamp time;
};

/// Checks a handshake frame in SPEC order: malformed ("Invalid message format: ..."), timestamp
/// off by more than `window` ("Not authorized: stale timestamp"), signature over every key but
/// "signature" ("Not authorized: invalid signature"). Registration and blacklist checks belong
/// to the caller.
result<authenticated_peer> verify_auth_message(
    const boost::json::value& frame, timestamp now,
    std::chrono::seconds window = default_timestamp_window);

/// What a received envelope is checked against.
struct frame_expectations {
  std::string_view sender;        // the authenticated (or dialled) peer's SS58
  const crypto::public_key* key;  // its public key
  timestamp now;
  std::chrono::seconds window = default_timestamp_window;
  replay_guard* nonces = nullptr;  // records the nonce once the signature holds
  /// The same key with its verification tables (faster, same verdicts); optional.
  const crypto::verifying_key* prepared = nullptr;
};

/// An envelope that passed every check before its signature: the text the signature covers and
/// the decoded signature, for verifying several at once.
struct signature_pending {
  std::string text;
  crypto::signature sig{};
  timestamp time;
};

/// verify_envelope up to the signature: sender, timestamp window, unused nonce.
result<signature_pending> check_unsigned(const envelope& e, const frame_expectations& expect);
/// The same into `out`, the text written over out.text's own buffer: a caller that keeps that
/// buffer for its next frame allocates nothing for the text once it has grown to a frame's size.
/// On an error `out` holds nothing of use.
result<void> check_unsigned(const envelope& e, const frame_expectations& expect,
                            signature_pending& out);

/// verify_envelope after a good signature: records the nonce (refusing a racing duplicate).
result<void> accept_signed(const envelope& e, const signature_pending& p,
                           const frame_expectations& expect);

/// Checks a parsed envelope in SPEC order: sender, timestamp window, unused nonce, signature.
result<void> verify_envelope(const envelope& e, const frame_expectations& expect);

/// Parses and checks one received frame.
result<envelope> open_envelope(std::string_view text, const frame_expectations& expect);

}  // namespace bettensor::protocol
