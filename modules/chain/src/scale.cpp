#include "bettensor/chain/scale.hpp"

#include <string_view>

namespace bettensor::chain {

void scale_reader::fail(const std::string& why) const {
  throw scale_error(why + " at byte " + std::to_string(pos_) + " of " +
                    std::to_string(bytes_.size()));
}

std::span<const std::uint8_t> scale_reader::take(std::size_t n, const char* what) {
  if (n > remaining())
    fail(std::string("truncated: ") + what + " needs " + std::to_string(n) + " bytes");
  const auto s = bytes_.subspan(pos_, n);
  pos_ += n;
  return s;
}

namespace {
template <class T>
T little_endian(std::span<const std::uint8_t> s) {
  T v = 0;
  for (std::size_t i = s.size(); i-- > 0;) v = static_cast<T>((v << 8U) | s[i]);
  return v;
}
}  // namespace

std::uint8_t scale_reader::u8() {
  return take(1, "u8")[0];
}
std::uint16_t scale_reader::u16() {
  return little_endian<std::uint16_t>(take(2, "u16"));
}
std::uint32_t scale_reader::u32() {
  return little_endian<std::uint32_t>(take(4, "u32"));
}
std::uint64_t scale_reader::u64() {
  return little_endian<std::uint64_t>(take(8, "u64"));
}

u128 scale_reader::u128_le() {
  const auto s = take(16, "u128");
  return {little_endian<std::uint64_t>(s.subspan(0, 8)),
          little_endian<std::uint64_t>(s.subspan(8))};
}

bool scale_reader::boolean() {
  const auto b = take(1, "bool")[0];
  if (b > 1) {
    --pos_;
    fail("bool must be 0 or 1, got " + std::to_string(b));
  }
  return b == 1;
}

// The two low bits of the first byte give the mode: 0b00 one byte (6 bits), 0b01 two bytes
// (14 bits), 0b10 four bytes (30 bits), 0b11 "big integer": the upper six bits plus 4 give the
// number of bytes that follow. Each value has one canonical (shortest) form; others are refused
// as parity-scale-codec refuses them.
std::uint64_t scale_reader::compact(const char* what, std::uint64_t max) {
  const std::size_t start = pos_;
  const auto first = u8();
  std::uint64_t v = 0;
  switch (first & 3U) {
    case 0:
      v = first >> 2U;
      break;
    case 1: {
      --pos_;
      v = u16() >> 2U;
      if (v < 64) fail(std::string("non-canonical compact ") + what);
      break;
    }
    case 2: {
      --pos_;
      v = u32() >> 2U;
      if (v < (1U << 14U)) fail(std::string("non-canonical compact ") + what);
      break;
    }
    default: {
      const std::size_t n = (first >> 2U) + 4U;
      const auto s = take(n, what);
      if (n > 8) {
        for (std::size_t i = 8; i < n; ++i) {
          if (s[i] != 0) {
            pos_ = start;
            fail(std::string("compact ") + what + " does not fit 64 bits");
          }
        }
        pos_ = start;
        fail(std::string("non-canonical compact ") + what);
      }
      v = little_endian<std::uint64_t>(s);
      if (s[n - 1] == 0 || v < (1U << 30U)) {
        pos_ = start;
        fail(std::string("non-canonical compact ") + what);
      }
      break;
    }
  }
  if (v > max) {
    pos_ = start;
    fail(std::string("compact ") + what + " = " + std::to_string(v) + " is above " +
         std::to_string(max));
  }
  return v;
}

std::size_t scale_reader::length(const char* what, std::size_t min_item) {
  const std::size_t start = pos_;
  const auto n = compact(what);
  if (min_item > 0 && n > remaining() / min_item) {
    pos_ = start;
    fail(std::string(what) + " of " + std::to_string(n) + " items cannot fit in the " +
         std::to_string(remaining()) + " bytes left");
  }
  return static_cast<std::size_t>(n);
}

std::vector<std::uint8_t> from_hex(std::string_view text) {
  if (text.starts_with("0x") || text.starts_with("0X")) text.remove_prefix(2);
  if (text.size() % 2 != 0) throw scale_error("hex of odd length " + std::to_string(text.size()));
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) throw scale_error("not hex at character " + std::to_string(i));
    out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
  }
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr std::string_view digits = "0123456789abcdef";
  std::string out = "0x";
  out.reserve(2 + bytes.size() * 2);
  for (const auto b : bytes) {
    out.push_back(digits[b >> 4U]);
    out.push_back(digits[b & 15U]);
  }
  return out;
}

}  // namespace bettensor::chain
