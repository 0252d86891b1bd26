// Byte views and hex conversion shared by the crypto and protocol code.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bettensor::crypto {

using bytes_view = std::span<const std::uint8_t>;

/// The bytes of a string, without copying.
inline bytes_view as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Lowercase hex, no prefix.
std::string to_hex(bytes_view bytes);
/// Appends the same digits to `out`.
void append_hex(std::string& out, bytes_view bytes);

/// Decodes hex (either case, optional "0x" prefix when `allow_prefix`). Returns nullopt on an odd
/// length or a non-hex character.
std::optional<std::vector<std::uint8_t>> from_hex(std::string_view hex, bool allow_prefix = false);

/// Decodes hex into a buffer of exactly `out.size()` bytes; false if the text does not fit exactly.
bool from_hex_exact(std::string_view hex, std::span<std::uint8_t> out, bool allow_prefix = false);

/// Fills `out` from the operating system's CSPRNG.
void random_bytes(std::span<std::uint8_t> out) noexcept;

/// The same CSPRNG's bytes, drawn a kilobyte at a time into a per-thread buffer that wipes each
/// piece as it hands it out: for the many small draws (signature randomness, nonces), not keys.
void pooled_random_bytes(std::span<std::uint8_t> out) noexcept;

/// Wipes a buffer in a way the optimiser may not remove.
void secure_wipe(std::span<std::uint8_t> buf) noexcept;

}  // namespace bettensor::crypto
