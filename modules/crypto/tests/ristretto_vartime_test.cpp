// The variable-time double-base multiplication against libsodium's constant-time operations.
#include "bettensor/crypto/ristretto_vartime.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <vector>

namespace {

using bettensor::crypto::vartime::base_mul_sub;
using bettensor::crypto::vartime::is_valid_point;
using bytes32 = std::array<std::uint8_t, 32>;

class VartimeTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }

  // s*B - k*A the slow, constant-time way.
  static bytes32 reference(const bytes32& s, const bytes32& k, const bytes32& a) {
    bytes32 sb{};
    bytes32 ka{};
    bytes32 out{};
    if (crypto_scalarmult_ristretto255_base(sb.data(), s.data()) != 0) sb.fill(0);
    if (crypto_scalarmult_ristretto255(ka.data(), k.data(), a.data()) != 0) ka.fill(0);
    EXPECT_EQ(crypto_core_ristretto255_sub(out.data(), sb.data(), ka.data()), 0);
    return out;
  }

  static bytes32 random_point() {
    bytes32 p{};
    crypto_core_ristretto255_random(p.data());
    return p;
  }
  static bytes32 random_scalar() {
    bytes32 s{};
    crypto_core_ristretto255_scalar_random(s.data());
    return s;
  }
  static bytes32 small_scalar(std::uint64_t v) {
    bytes32 s{};
    for (int i = 0; i < 8; ++i) s[i] = static_cast<std::uint8_t>(v >> (8 * i));
    return s;
  }
};

TEST_F(VartimeTest, MatchesLibsodiumOnRandomInputs) {
  for (int i = 0; i < 300; ++i) {
    const auto s = random_scalar();
    const auto k = random_scalar();
    const auto a = random_point();
    const auto got = base_mul_sub(s, k, a);
    ASSERT_TRUE(got.has_value());
    ASSERT_EQ(*got, reference(s, k, a)) << "iteration " << i;
  }
}

// More keys than the per-thread key cache has slots, each used twice in a different order, so
// slots are shared and replaced: every answer must still be the key's own.
TEST_F(VartimeTest, KeyCacheCollisionsGiveCorrectResults) {
  std::vector<bytes32> keys(600);
  for (auto& k : keys) k = random_point();
  const auto s = random_scalar();
  const auto k = random_scalar();
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const auto& a = keys[pass == 0 ? i : keys.size() - 1 - i];
      const auto got = base_mul_sub(s, k, a);
      ASSERT_TRUE(got.has_value());
      ASSERT_EQ(*got, reference(s, k, a)) << "pass " << pass << " key " << i;
    }
  }
}

TEST_F(VartimeTest, MatchesLibsodiumOnEdgeScalars) {
  bytes32 l_minus_1{};  // the largest canonical scalar
  const bytes32 one = small_scalar(1);
  crypto_core_ristretto255_scalar_negate(l_minus_1.data(), one.data());
  bytes32 all_ones{};  // 2^255 - 1: unreduced, still below 2^255
  all_ones.fill(0xff);
  all_ones[31] = 0x7f;
  const std::array<bytes32, 8> scalars = {small_scalar(0),  small_scalar(1),    small_scalar(2),
                                          small_scalar(15), small_scalar(128),  l_minus_1,
                                          all_ones,         small_scalar(~0ULL)};
  const auto a = random_point();
  for (const auto& s : scalars) {
    for (const auto& k : scalars) {
      bytes32 s_red{};
      bytes32 k_red{};
      std::array<std::uint8_t, 64> wide{};
      std::memcpy(wide.data(), s.data(), 32);
      crypto_core_ristretto255_scalar_reduce(s_red.data(), wide.data());
      std::memcpy(wide.data(), k.data(), 32);
      crypto_core_ristretto255_scalar_reduce(k_red.data(), wide.data());
      const auto got = base_mul_sub(s, k, a);
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(*got, reference(s_red, k_red, a));
    }
  }
}

TEST_F(VartimeTest, ZeroScalarsGiveTheIdentity) {
  const auto got = base_mul_sub(small_scalar(0), small_scalar(0), random_point());
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, bytes32{});
}

TEST_F(VartimeTest, ScalarsOf2To255AndAboveAreRefused) {
  bytes32 big{};
  big[31] = 0x80;
  EXPECT_FALSE(base_mul_sub(big, small_scalar(1), random_point()).has_value());
  EXPECT_FALSE(base_mul_sub(small_scalar(1), big, random_point()).has_value());
}

TEST_F(VartimeTest, PointValidityAgreesWithLibsodium) {
  int valid = 0;
  for (int i = 0; i < 2000; ++i) {
    bytes32 b{};
    randombytes_buf(b.data(), b.size());
    if (i % 2 == 0) b = random_point();
    b[31] &= 0x7f;  // libsodium ignores the top bit; see the next test
    const bool expected = crypto_core_ristretto255_is_valid_point(b.data()) == 1;
    ASSERT_EQ(is_valid_point(b), expected) << "iteration " << i;
    valid += expected ? 1 : 0;
  }
  EXPECT_GT(valid, 400);  // the comparison saw both kinds
}

// RFC 9496 (and schnorrkel, which Bittensor keys come from) refuse an encoding >= p, so the top
// bit must be clear; libsodium 1.0.18 masks it off and would accept such a key.
TEST_F(VartimeTest, TopBitSetIsRefused) {
  for (int i = 0; i < 50; ++i) {
    auto p = random_point();
    ASSERT_TRUE(is_valid_point(p));
    p[31] |= 0x80;
    EXPECT_FALSE(is_valid_point(p));
  }
}

TEST_F(VartimeTest, NonCanonicalEncodingsAreRefused) {
  // From RFC 9496 appendix A.2: non-canonical field elements, negative ones, non-squares.
  const std::array<const char*, 8> bad = {
      "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
      "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "0100000000000000000000000000000000000000000000000000000000000000",
      "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
      "4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f"};
  for (const char* hex : bad) {
    bytes32 b{};
    ASSERT_EQ(sodium_hex2bin(b.data(), b.size(), hex, 64, nullptr, nullptr, nullptr), 0);
    ASSERT_NE(crypto_core_ristretto255_is_valid_point(b.data()), 1) << hex;
    EXPECT_FALSE(is_valid_point(b)) << hex;
    EXPECT_FALSE(base_mul_sub(small_scalar(1), small_scalar(1), b).has_value()) << hex;
  }
}

}  // namespace
