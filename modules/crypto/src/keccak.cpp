#include "bettensor/crypto/keccak.hpp"

#include <bit>

namespace bettensor::crypto {

namespace {
constexpr std::array<std::uint64_t, 24> round_constants = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};

// Rho rotation offsets and Pi lane order, walked along the Pi cycle starting at lane 1.
constexpr std::array<int, 24> rho = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                     27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
constexpr std::array<int, 24> pi = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                    15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};
}  // namespace

// The inner loops have constant bounds; unrolled, their indices become constants and the state
// stays in registers (about four times faster than the rolled loops on x86-64).
void keccak_f1600(keccak_state& st) noexcept {
  std::array<std::uint64_t, 5> bc{};
  for (std::uint64_t rc : round_constants) {
    // Theta
#pragma GCC unroll 5
    for (int i = 0; i < 5; ++i) bc[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^ st[i + 20];
#pragma GCC unroll 5
    for (int i = 0; i < 5; ++i) {
      const std::uint64_t t = bc[(i + 4) % 5] ^ std::rotl(bc[(i + 1) % 5], 1);
#pragma GCC unroll 5
      for (int j = 0; j < 25; j += 5) st[j + i] ^= t;
    }
    // Rho and Pi
    std::uint64_t carry = st[1];
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) {
      const int j = pi[i];
      const std::uint64_t next = st[j];
      st[j] = std::rotl(carry, rho[i]);
      carry = next;
    }
    // Chi
#pragma GCC unroll 5
    for (int j = 0; j < 25; j += 5) {
#pragma GCC unroll 5
      for (int i = 0; i < 5; ++i) bc[i] = st[j + i];
#pragma GCC unroll 5
      for (int i = 0; i < 5; ++i) st[j + i] ^= (~bc[(i + 1) % 5]) & bc[(i + 2) % 5];
    }
    // Iota
    st[0] ^= rc;
  }
}

}  // namespace bettensor::crypto
