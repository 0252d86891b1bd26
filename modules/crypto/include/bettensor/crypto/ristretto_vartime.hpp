// Variable-time ristretto255 arithmetic for signature verification, where every input is public.
// libsodium offers only constant-time scalar multiplication of a variable point, which costs
// verification about twice what it needs; this computes s*B - k*A in one double-base pass
// (Straus with width-5/width-8 non-adjacent forms), as schnorrkel and curve25519-dalek do.
// Never use it with secret scalars: its running time depends on them.
#pragma once

#include <array>
#include <cstdint>
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

}  // namespace bettensor::crypto::vartime
