// Variable-time ristretto255 arithmetic for signature verification, where every input is public.
// libsodium offers only constant-time scalar multiplication of a variable point, which costs
// verification about twice what it needs; this computes s*B - k*A in one double-base pass
// (Straus with width-5/width-8 non-adjacent forms), as schnorrkel and curve25519-dalek do.
// Never use it with secret scalars: its running time depends on them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

namespace bettensor::crypto::vartime {

using point_bytes = std::array<std::uint8_t, 32>;

// The canonical encoding of s*B - k*A, with B the ristretto255 base point. Scalars are 32-byte
// little-endian values below 2^255; nullopt when `a` is not a canonical ristretto255 encoding.
std::optional<point_bytes> base_mul_sub(std::span<const std::uint8_t, 32> s,
                                        std::span<const std::uint8_t, 32> k,
                                        std::span<const std::uint8_t, 32> a) noexcept;

// Whether `p` is the canonical encoding of a ristretto255 point.
bool is_valid_point(std::span<const std::uint8_t, 32> p) noexcept;

// A public key decoded once, with width-8 tables of the odd multiples of -A, -2^64*A,
// -2^128*A and -2^192*A (key_tables_bytes in all): s*B - k*A then takes 64 doublings instead of
// 256. Built in about one and a half verifications.
struct key_tables;
struct key_tables_deleter {
  void operator()(key_tables* t) const noexcept;
};
using key_tables_ptr = std::unique_ptr<key_tables, key_tables_deleter>;

// The tables of `a`; null when `a` is not a canonical encoding (or memory ran out).
key_tables_ptr make_key_tables(std::span<const std::uint8_t, 32> a) noexcept;
std::size_t key_tables_bytes() noexcept;

// base_mul_sub with the key's tables.
point_bytes base_mul_sub(std::span<const std::uint8_t, 32> s, std::span<const std::uint8_t, 32> k,
                         const key_tables& a) noexcept;

// One signature's share of a batch: its weight z (below 2^128) and its R as received.
struct batch_term {
  point_bytes z{};
  point_bytes r{};
};
inline constexpr std::size_t max_batch_terms = 64;

// Whether s*B - k*A - sum(z_i * R_i) is the identity of ristretto255 (at most max_batch_terms
// terms); false when some R_i is not a canonical encoding.
bool batch_is_identity(std::span<const std::uint8_t, 32> s, std::span<const std::uint8_t, 32> k,
                       const key_tables& a, std::span<const batch_term> terms) noexcept;

}  // namespace bettensor::crypto::vartime
