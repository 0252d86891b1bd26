// Keccak-f[1600], the permutation under STROBE-128 (and so under Merlin transcripts).
#pragma once

#include <array>
#include <cstdint>

namespace bettensor::crypto {

/// The 1600-bit state as 25 little-endian 64-bit lanes (lane i = bytes 8i..8i+7).
using keccak_state = std::array<std::uint64_t, 25>;

/// Applies the 24-round Keccak-f[1600] permutation in place.
void keccak_f1600(keccak_state& state) noexcept;

}  // namespace bettensor::crypto
