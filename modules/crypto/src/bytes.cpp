#include "bettensor/crypto/bytes.hpp"

#include <sodium.h>

#include <array>
#include <cstring>

#include "sodium_init.hpp"

namespace bettensor::crypto {

std::string to_hex(bytes_view bytes) {
  std::string out;
  append_hex(out, bytes);
  return out;
}

void append_hex(std::string& out, bytes_view bytes) {
  const std::size_t at = out.size();
  out.resize(at + bytes.size() * 2 + 1);
  sodium_bin2hex(out.data() + at, bytes.size() * 2 + 1, bytes.data(), bytes.size());
  out.pop_back();  // sodium writes a terminating NUL
}

namespace {
std::string_view strip_prefix(std::string_view hex, bool allow_prefix) {
  if (allow_prefix && hex.size() >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
    hex.remove_prefix(2);
  }
  return hex;
}

bool decode_into(std::string_view hex, std::uint8_t* out, std::size_t out_size) {
  if (hex.size() != out_size * 2) return false;
  if (out_size == 0) return true;  // nothing to decode (and sodium must not see a null buffer)
  std::size_t written = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out, out_size, hex.data(), hex.size(), nullptr, &written, &end) != 0) {
    return false;
  }
  return written == out_size && end == hex.data() + hex.size();
}
}  // namespace

std::optional<std::vector<std::uint8_t>> from_hex(std::string_view hex, bool allow_prefix) {
  hex = strip_prefix(hex, allow_prefix);
  if (hex.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> out(hex.size() / 2);
  if (!decode_into(hex, out.data(), out.size())) return std::nullopt;
  return out;
}

bool from_hex_exact(std::string_view hex, std::span<std::uint8_t> out, bool allow_prefix) {
  return decode_into(strip_prefix(hex, allow_prefix), out.data(), out.size());
}

void random_bytes(std::span<std::uint8_t> out) noexcept {
  detail::ensure_sodium();
  randombytes_buf(out.data(), out.size());
}

void secure_wipe(std::span<std::uint8_t> buf) noexcept {
  sodium_memzero(buf.data(), buf.size());
}

namespace {

// Random bytes drawn from the OS RNG a kilobyte at a time (one call instead of one per
// signature); each piece is wiped from the buffer as it is handed out.
class random_pool {
 public:
  random_pool() = default;
  random_pool(const random_pool&) = delete;
  random_pool& operator=(const random_pool&) = delete;
  ~random_pool() { secure_wipe(buf_); }

  void take(std::span<std::uint8_t> out) noexcept {
    if (out.size() > buf_.size()) return random_bytes(out);
    if (buf_.size() - pos_ < out.size()) {
      random_bytes(buf_);
      pos_ = 0;
    }
    std::memcpy(out.data(), buf_.data() + pos_, out.size());
    secure_wipe(std::span(buf_).subspan(pos_, out.size()));
    pos_ += out.size();
  }

 private:
  std::array<std::uint8_t, 1024> buf_{};
  std::size_t pos_ = buf_.size();
};

}  // namespace

void pooled_random_bytes(std::span<std::uint8_t> out) noexcept {
  thread_local random_pool pool;
  pool.take(out);
}

}  // namespace bettensor::crypto
