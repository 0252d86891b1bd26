#include "bettensor/crypto/merlin.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace bettensor::crypto {

static_assert(std::endian::native == std::endian::little,
              "the STROBE state is addressed as little-endian lanes");

namespace {
constexpr std::uint8_t flag_i = 1;
constexpr std::uint8_t flag_a = 1 << 1;
constexpr std::uint8_t flag_c = 1 << 2;
constexpr std::uint8_t flag_m = 1 << 4;
constexpr std::uint8_t flag_k = 1 << 5;

std::array<std::uint8_t, 4> le32(std::size_t n) noexcept {
  const auto v = static_cast<std::uint32_t>(n);
  return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
          static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 24)};
}
}  // namespace

strobe128::strobe128(bytes_view protocol_label) noexcept {
  constexpr std::array<std::uint8_t, 6> header = {1, rate + 2, 1, 0, 1, 96};
  constexpr std::string_view version = "STROBEv1.0.2";
  std::memcpy(bytes(), header.data(), header.size());
  std::memcpy(bytes() + header.size(), version.data(), version.size());
  keccak_f1600(state_);
  meta_ad(protocol_label, false);
}

strobe128::~strobe128() {
  secure_wipe({bytes(), 200});
}

std::uint8_t* strobe128::bytes() noexcept {
  return reinterpret_cast<std::uint8_t*>(state_.data());
}

std::span<const std::uint8_t, 200> strobe128::state_bytes() const noexcept {
  return std::span<const std::uint8_t, 200>(reinterpret_cast<const std::uint8_t*>(state_.data()),
                                            200);
}

void strobe128::meta_ad(bytes_view data, bool more) noexcept {
  begin_op(flag_m | flag_a, more);
  absorb(data);
}

void strobe128::ad(bytes_view data, bool more) noexcept {
  begin_op(flag_a, more);
  absorb(data);
}

void strobe128::prf(std::span<std::uint8_t> out, bool more) noexcept {
  begin_op(flag_i | flag_a | flag_c, more);
  squeeze(out);
}

void strobe128::key(bytes_view data, bool more) noexcept {
  begin_op(flag_a | flag_c, more);
  overwrite(data);
}

void strobe128::run_f() noexcept {
  std::uint8_t* st = bytes();
  st[pos_] ^= pos_begin_;
  st[pos_ + 1] ^= 0x04;
  st[rate + 1] ^= 0x80;
  keccak_f1600(state_);
  pos_ = 0;
  pos_begin_ = 0;
}

void strobe128::absorb(bytes_view data) noexcept {
  std::uint8_t* st = bytes();
  for (std::uint8_t b : data) {
    st[pos_] ^= b;
    if (++pos_ == rate) run_f();
  }
}

void strobe128::overwrite(bytes_view data) noexcept {
  std::uint8_t* st = bytes();
  for (std::uint8_t b : data) {
    st[pos_] = b;
    if (++pos_ == rate) run_f();
  }
}

void strobe128::squeeze(std::span<std::uint8_t> out) noexcept {
  std::uint8_t* st = bytes();
  for (std::uint8_t& b : out) {
    b = st[pos_];
    st[pos_] = 0;
    if (++pos_ == rate) run_f();
  }
}

void strobe128::begin_op(std::uint8_t flags, bool more) noexcept {
  if (more) return;  // a continuation of the current operation only adds data
  const std::array<std::uint8_t, 2> op = {pos_begin_, flags};
  pos_begin_ = static_cast<std::uint8_t>(pos_ + 1);
  cur_flags_ = flags;
  absorb(op);
  if ((flags & (flag_c | flag_k)) != 0 && pos_ != 0) run_f();
}

transcript::transcript(std::string_view label) noexcept : strobe_(as_bytes("Merlin v1.0")) {
  append_message("dom-sep", as_bytes(label));
}

void transcript::append_message(std::string_view label, bytes_view message) noexcept {
  append_message(label, {message});
}

void transcript::append_message(std::string_view label,
                                std::initializer_list<bytes_view> pieces) noexcept {
  std::size_t total = 0;
  for (bytes_view p : pieces) total += p.size();
  strobe_.meta_ad(as_bytes(label), false);
  strobe_.meta_ad(le32(total), true);
  bool more = false;
  for (bytes_view p : pieces) {
    strobe_.ad(p, more);
    more = true;
  }
  if (!more) strobe_.ad({}, false);  // no pieces: still begin the AD operation
}

void transcript::append_u64(std::string_view label, std::uint64_t value) noexcept {
  std::array<std::uint8_t, 8> le{};
  for (std::size_t i = 0; i < le.size(); ++i) le[i] = static_cast<std::uint8_t>(value >> (8 * i));
  append_message(label, le);
}

void transcript::challenge_bytes(std::string_view label, std::span<std::uint8_t> out) noexcept {
  strobe_.meta_ad(as_bytes(label), false);
  strobe_.meta_ad(le32(out.size()), true);
  strobe_.prf(out, false);
}

void transcript::witness_bytes(std::string_view label, std::initializer_list<bytes_view> seeds,
                               std::span<const std::uint8_t, 32> random,
                               std::span<std::uint8_t> out) const noexcept {
  strobe128 rng = strobe_;
  for (bytes_view seed : seeds) {
    rng.meta_ad(as_bytes(label), false);
    rng.meta_ad(le32(seed.size()), true);
    rng.key(seed, false);
  }
  rng.meta_ad(as_bytes("rng"), false);
  rng.key(random, false);
  rng.meta_ad(le32(out.size()), false);
  rng.prf(out, false);
}

}  // namespace bettensor::crypto
