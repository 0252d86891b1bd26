#include "bettensor/crypto/ss58.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "sodium_init.hpp"

namespace bettensor::crypto {

namespace {

constexpr std::string_view alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::size_t max_address_chars = 96;  // 2 + 32 + 2 bytes need at most 50 characters

constexpr std::array<std::int8_t, 128> make_digit_table() {
  std::array<std::int8_t, 128> t{};
  for (auto& v : t) v = -1;
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return t;
}
constexpr auto digit_table = make_digit_table();

class ss58_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "ss58"; }
  std::string message(int ev) const override {
    switch (static_cast<ss58_errc>(ev)) {
      case ss58_errc::empty:
        return "empty address";
      case ss58_errc::bad_character:
        return "invalid base58 character";
      case ss58_errc::bad_length:
        return "invalid decoded address length";
      case ss58_errc::bad_prefix:
        return "invalid or reserved SS58 prefix";
      case ss58_errc::bad_checksum:
        return "invalid address checksum";
    }
    return "unknown ss58 error";
  }
};

std::array<std::uint8_t, 64> ss58_hash(const std::uint8_t* body, std::size_t n) noexcept {
  detail::ensure_sodium();
  std::array<std::uint8_t, 64> out{};
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, out.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>("SS58PRE"), 7);
  crypto_generichash_update(&st, body, n);
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

}  // namespace

const boost::system::error_category& ss58_category() noexcept {
  static const ss58_category_impl instance;
  return instance;
}

boost::system::error_code make_error_code(ss58_errc e) noexcept {
  return {static_cast<int>(e), ss58_category()};
}

std::string base58_encode(bytes_view bytes) {
  // Big-number conversion from base 256 to base 58; addresses are short, O(n^2) is fine.
  std::size_t zeros = 0;
  while (zeros < bytes.size() && bytes[zeros] == 0) ++zeros;
  std::vector<std::uint8_t> digits;  // base-58 digits, least significant first
  digits.reserve(bytes.size() * 138 / 100 + 1);
  for (std::size_t i = zeros; i < bytes.size(); ++i) {
    unsigned carry = bytes[i];
    for (auto& d : digits) {
      carry += static_cast<unsigned>(d) << 8;
      d = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    while (carry > 0) {
      digits.push_back(static_cast<std::uint8_t>(carry % 58));
      carry /= 58;
    }
  }
  std::string out(zeros, '1');
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) out.push_back(alphabet[*it]);
  return out;
}

boost::system::result<std::vector<std::uint8_t>> base58_decode(std::string_view text) noexcept {
  std::size_t zeros = 0;
  while (zeros < text.size() && text[zeros] == '1') ++zeros;
  std::vector<std::uint8_t> bytes;  // base-256 digits, least significant first
  for (std::size_t i = zeros; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const int digit = c < 128 ? digit_table[c] : -1;
    if (digit < 0) return make_error_code(ss58_errc::bad_character);
    unsigned carry = static_cast<unsigned>(digit);
    for (auto& b : bytes) {
      carry += static_cast<unsigned>(b) * 58;
      b = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push_back(static_cast<std::uint8_t>(carry & 0xff));
      carry >>= 8;
    }
  }
  std::vector<std::uint8_t> out(zeros, 0);
  out.insert(out.end(), bytes.rbegin(), bytes.rend());
  return out;
}

std::string ss58_encode(const public_key& key, std::uint16_t prefix) {
  std::array<std::uint8_t, 2 + 32 + 2> buf{};
  std::size_t n = 0;
  if (prefix < 64) {
    buf[n++] = static_cast<std::uint8_t>(prefix);
  } else {
    prefix &= 0x3fff;
    buf[n++] = static_cast<std::uint8_t>(((prefix & 0xfc) >> 2) | 0x40);
    buf[n++] = static_cast<std::uint8_t>((prefix >> 8) | ((prefix & 0x03) << 6));
  }
  std::memcpy(buf.data() + n, key.data(), key.size());
  n += key.size();
  const auto hash = ss58_hash(buf.data(), n);
  buf[n++] = hash[0];
  buf[n++] = hash[1];
  return base58_encode(bytes_view(buf.data(), n));
}

boost::system::result<ss58_address> ss58_decode(std::string_view text) noexcept {
  if (text.empty()) return make_error_code(ss58_errc::empty);
  if (text.size() > max_address_chars) return make_error_code(ss58_errc::bad_length);
  auto decoded = base58_decode(text);
  if (!decoded) return decoded.error();
  const std::vector<std::uint8_t>& d = *decoded;
  // One or two prefix bytes, the 32-byte account id, two checksum bytes.
  if (d.size() != 1 + public_key_size + 2 && d.size() != 2 + public_key_size + 2) {
    return make_error_code(ss58_errc::bad_length);
  }

  ss58_address out;
  std::size_t prefix_len = 0;
  if (d[0] < 64) {
    out.prefix = d[0];
    prefix_len = 1;
  } else if (d[0] < 128) {
    const unsigned lower = ((d[0] << 2) | (d[1] >> 6)) & 0xff;
    const unsigned upper = d[1] & 0x3f;
    out.prefix = static_cast<std::uint16_t>(lower | (upper << 8));
    prefix_len = 2;
  } else {
    return make_error_code(ss58_errc::bad_prefix);
  }
  if (d.size() != prefix_len + public_key_size + 2) return make_error_code(ss58_errc::bad_length);
  const std::size_t body = prefix_len + public_key_size;
  const auto hash = ss58_hash(d.data(), body);
  if (hash[0] != d[body] || hash[1] != d[body + 1]) {
    return make_error_code(ss58_errc::bad_checksum);
  }
  std::memcpy(out.key.data(), d.data() + prefix_len, public_key_size);
  return out;
}

}  // namespace bettensor::crypto
