// SS58 addresses: base58(prefix || public key || blake2b-512("SS58PRE" || prefix || key)[0..2]).
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "bettensor/crypto/sr25519.hpp"

namespace bettensor::crypto {

inline constexpr std::uint16_t bittensor_ss58_prefix = 42;

enum class ss58_errc {
  empty = 1,
  bad_character,
  bad_length,
  bad_prefix,
  bad_checksum,
};

const boost::system::error_category& ss58_category() noexcept;
boost::system::error_code make_error_code(ss58_errc e) noexcept;

struct ss58_address {
  std::uint16_t prefix = bittensor_ss58_prefix;
  crypto::public_key key{};
};

/// Encodes a 32-byte account id; prefixes 0..63 take one byte, 64..16383 two.
std::string ss58_encode(const public_key& key, std::uint16_t prefix = bittensor_ss58_prefix);

/// Decodes an SS58 address of a 32-byte account id (any valid prefix). Refuses hex, other
/// account id sizes, reserved prefixes and a wrong checksum.
boost::system::result<ss58_address> ss58_decode(std::string_view text) noexcept;

/// Plain base58 (Bitcoin alphabet), exposed for tests.
std::string base58_encode(bytes_view bytes);
boost::system::result<std::vector<std::uint8_t>> base58_decode(std::string_view text) noexcept;

}  // namespace bettensor::crypto

template <>
struct boost::system::is_error_code_enum<bettensor::crypto::ss58_errc> : std::true_type {};
