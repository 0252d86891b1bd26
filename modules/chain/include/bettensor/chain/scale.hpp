// Reading SCALE, the encoding of Substrate's runtime (parity-scale-codec): little-endian fixed
// integers, compact integers, bools, fixed byte arrays and length-prefixed vectors. Only what
// the chain types read here need. Every read is bounds-checked; a bad input throws scale_error
// naming the offset, never reads past the end.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bettensor::chain {

class scale_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An unsigned 128-bit value as two halves (SCALE's u128, an IP address on the chain).
struct u128 {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  bool operator==(const u128&) const = default;
};

class scale_reader {
 public:
  /// Reads `bytes`, which must outlive the reader.
  explicit scale_reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  explicit scale_reader(std::vector<std::uint8_t>&&) = delete;  // would dangle

  std::uint8_t u8();
  std::uint16_t u16();
  std::uint32_t u32();
  std::uint64_t u64();
  u128 u128_le();
  bool boolean();  // 0 or 1; anything else is an error
  /// A compact integer of at most 64 bits; `what` names it in errors, as does `max` its bound.
  std::uint64_t compact(const char* what, std::uint64_t max = UINT64_MAX);
  /// A vector's length prefix, checked against what is left (each item at least `min_item`
  /// bytes), so a forged length cannot make the caller reserve gigabytes.
  std::size_t length(const char* what, std::size_t min_item);
  template <std::size_t N>
  std::array<std::uint8_t, N> fixed() {
    std::array<std::uint8_t, N> out{};
    const auto s = take(N, "fixed bytes");
    for (std::size_t i = 0; i < N; ++i) out[i] = s[i];
    return out;
  }

  [[nodiscard]] std::size_t offset() const { return pos_; }
  [[nodiscard]] std::size_t remaining() const { return bytes_.size() - pos_; }

 private:
  std::span<const std::uint8_t> take(std::size_t n, const char* what);
  [[noreturn]] void fail(const std::string& why) const;

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

/// Hex with or without "0x" (what JSON-RPC returns) to bytes; throws scale_error.
std::vector<std::uint8_t> from_hex(std::string_view text);
/// Bytes to "0x..." lowercase hex (the data of a state_call).
std::string to_hex(std::span<const std::uint8_t> bytes);

}  // namespace bettensor::chain
