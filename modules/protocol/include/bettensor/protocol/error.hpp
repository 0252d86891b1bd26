// Errors of the wire protocol. The texts are the ones peers see (SPEC.md sections 4-6).
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace bettensor::protocol {

/// Why a handshake or a frame was refused. The category's message() is the bare reason; the
/// text a peer sees adds the context prefix (see auth_error and frame_error).
enum class errc {
  invalid_format = 1,  // "invalid message format"
  stale_timestamp,     // "stale timestamp"
  invalid_signature,   // "invalid signature"
  replayed_nonce,      // "nonce already used"
  sender_mismatch,     // "sender does not match the authenticated hotkey"
  duplicate_id,        // "Duplicate prediction_id" (the miner's outbox holds that id already)
  not_registered,      // "hotkey not registered" (the validator's metagraph lacks it)
  blacklisted,         // "blacklisted"
  held_off,            // "held off by the validator's operator" (POST /admin/disconnect)
};

const boost::system::error_category& protocol_category() noexcept;
boost::system::error_code make_error_code(errc e) noexcept;

/// A refusal: its class and the exact text sent back to the peer.
struct error {
  errc code = errc::invalid_format;
  std::string message;
};

[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

template <class T>
using result = boost::system::result<T, error>;

/// "Invalid message format: <detail>".
error invalid_format(std::string_view detail);
/// Handshake refusal: "Not authorized: stale timestamp", "Not authorized: invalid signature",
/// "Not authorized: hotkey not registered", "Not authorized: blacklisted",
/// "Not authorized: held off by the validator's operator".
error auth_error(errc code);
/// Refusal of a later frame: "Invalid message format: nonce already used", ...
error frame_error(errc code);

}  // namespace bettensor::protocol

template <>
struct boost::system::is_error_code_enum<bettensor::protocol::errc> : std::true_type {};
