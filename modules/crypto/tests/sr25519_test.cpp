#include <gtest/gtest.h>

#include <random>

#include "bettensor/crypto/sr25519.hpp"
#include "bettensor/crypto/ss58.hpp"
#include "bettensor/test/vectors.hpp"

namespace bettensor::crypto {
namespace {

using test::hex;
using test::str;

template <std::size_t N>
std::span<const std::uint8_t, N> fixed(const std::vector<std::uint8_t>& v) {
  EXPECT_EQ(v.size(), N);
  return std::span<const std::uint8_t, N>(v.data(), N);
}

TEST(Sr25519, KeysFromMiniSecretMatchReference) {
  const auto doc = test::load_vectors("sr25519.json");
  const auto& keys = doc.at("keys").as_array();
  ASSERT_EQ(keys.size(), 13u);
  for (const auto& k : keys) {
    SCOPED_TRACE(str(k.at("name")));
    const auto mini = hex(k.at("mini_secret_hex"));
    const keypair kp = keypair::from_mini_secret(fixed<32>(mini));
    EXPECT_EQ(to_hex(kp.public_key_bytes()), str(k.at("public_key_hex")));
    EXPECT_EQ(to_hex(kp.schnorrkel_bytes()), str(k.at("secret_key_schnorrkel_hex")));
    EXPECT_EQ(to_hex(kp.ed25519_bytes()), str(k.at("secret_key_hex")));
    EXPECT_EQ(to_hex(kp.schnorrkel_bytes()), str(k.at("scalar_hex")) + str(k.at("nonce_hex")));
    EXPECT_EQ(ss58_encode(kp.public_key_bytes()), str(k.at("ss58")));

    // Both 64-byte serialisations load back to the same key.
    const auto from_schnorrkel =
        keypair::from_schnorrkel_bytes(hex(k.at("secret_key_schnorrkel_hex")));
    ASSERT_TRUE(from_schnorrkel);
    EXPECT_EQ(from_schnorrkel->public_key_bytes(), kp.public_key_bytes());
    const auto from_ed = keypair::from_ed25519_bytes(hex(k.at("secret_key_hex")));
    ASSERT_TRUE(from_ed);
    EXPECT_EQ(from_ed->public_key_bytes(), kp.public_key_bytes());
    // The Ed25519 form is not a canonical scalar: from_schnorrkel_bytes must refuse it.
    EXPECT_FALSE(keypair::from_schnorrkel_bytes(hex(k.at("secret_key_hex"))));
  }
}

TEST(Sr25519, EverySignatureVectorGivesTheRecordedVerdict) {
  const auto doc = test::load_vectors("sr25519.json");
  const auto& sigs = doc.at("signatures").as_array();
  ASSERT_EQ(sigs.size(), 45u);
  int valid = 0;
  int invalid = 0;
  for (const auto& s : sigs) {
    SCOPED_TRACE(str(s.at("name")));
    const auto msg = hex(s.at("message_hex"));
    const std::string utf8 = str(s.at("message_utf8"));
    EXPECT_EQ(msg, std::vector<std::uint8_t>(utf8.begin(), utf8.end()));
    const auto sig = hex(s.at("signature_hex"));
    const auto key = hex(s.at("public_key_hex"));
    const bool expected = s.at("valid").as_bool();
    const verify_result r = verify_detailed(msg, sig, key);
    EXPECT_EQ(r == verify_result::valid, expected) << to_string(r);
    (expected ? valid : invalid)++;
    // The recorded schnorrkel error names the reason; ours must agree on the class.
    if (const auto* err = s.as_object().if_contains("schnorrkel_error"); err && err->is_string()) {
      const std::string e = str(*err);
      if (e.starts_with("NotMarkedSchnorrkel")) {
        EXPECT_EQ(r, verify_result::not_marked);
      }
      if (e.starts_with("ScalarFormatError")) {
        EXPECT_EQ(r, verify_result::scalar_format);
      }
      if (e.starts_with("BytesLengthError")) {
        EXPECT_EQ(r, verify_result::bad_length);
      }
      if (e.starts_with("PointDecompressionError")) {
        EXPECT_EQ(r, verify_result::invalid_key);
      }
      if (e.starts_with("EquationFalse")) {
        EXPECT_EQ(r, verify_result::equation_false);
      }
    }
    // The SS58 of the key is the recorded one (when the key is a valid point).
    if (key.size() == 32 && r != verify_result::invalid_key) {
      public_key pk{};
      std::copy(key.begin(), key.end(), pk.begin());
      EXPECT_EQ(ss58_encode(pk), str(s.at("ss58")));
    }
  }
  EXPECT_EQ(valid, 22);
  EXPECT_EQ(invalid, 23);
}

TEST(Sr25519, BytesWrapperIsAcceptedOnlyByBittensorVerify) {
  const auto doc = test::load_vectors("sr25519.json");
  for (const auto& s : doc.at("signatures").as_array()) {
    if (str(s.at("name")) != "signed_with_bytes_wrapper") continue;
    const auto msg = hex(s.at("message_hex"));
    const auto sig = hex(s.at("signature_hex"));
    const auto key = hex(s.at("public_key_hex"));
    EXPECT_FALSE(verify(msg, sig, key));
    EXPECT_TRUE(verify_bittensor(msg, sig, key));
    return;
  }
  FAIL() << "vector signed_with_bytes_wrapper missing";
}

TEST(Sr25519, DeterministicSignaturesReproduceByteForByte) {
  const auto doc = test::load_vectors("sr25519.json");
  const auto& cases = doc.at("deterministic_signatures").at("cases").as_array();
  ASSERT_EQ(cases.size(), 5u);
  for (const auto& c : cases) {
    const auto kp = keypair::from_ed25519_bytes(hex(c.at("secret_key_hex")));
    ASSERT_TRUE(kp);
    EXPECT_EQ(to_hex(kp->public_key_bytes()), str(c.at("public_key_hex")));
    const auto random = hex(c.at("witness_random_hex"));
    const signature sig = kp->sign_with_randomness(hex(c.at("message_hex")), fixed<32>(random));
    EXPECT_EQ(to_hex(sig), str(c.at("signature_hex")));
    EXPECT_TRUE(verify(hex(c.at("message_hex")), sig, kp->public_key_bytes()));
  }
}

TEST(Sr25519, IdentityKeyForgeryIsRefused) {
  const auto doc = test::load_vectors("sr25519.json");
  const auto& cases = doc.at("edge_cases").as_array();
  ASSERT_EQ(cases.size(), 1u);
  const auto& c = cases[0];
  const verify_result r = verify_detailed(hex(c.at("message_hex")), hex(c.at("signature_hex")),
                                          hex(c.at("public_key_hex")));
  EXPECT_EQ(r == verify_result::valid, c.at("recommended_verdict").as_bool());
  EXPECT_EQ(r, verify_result::identity_key);
}

TEST(Sr25519, SignaturesAreRandomisedButBothVerify) {
  const keypair kp = keypair::generate();
  const auto msg = as_bytes("same message");
  const signature a = kp.sign(msg);
  const signature b = kp.sign(msg);
  EXPECT_NE(a, b);
  EXPECT_TRUE(verify(msg, a, kp.public_key_bytes()));
  EXPECT_TRUE(verify(msg, b, kp.public_key_bytes()));
}

// Property: 1,000 random keypairs round-trip, and any single flipped bit in the message, the
// signature or the key makes verification fail.
TEST(Sr25519, RandomKeypairsRoundTripAndSingleBitFlipsFail) {
  std::mt19937_64 rng(20261129);
  for (int i = 0; i < 1000; ++i) {
    const keypair kp = keypair::generate();
    std::vector<std::uint8_t> msg(rng() % 300);
    for (auto& b : msg) b = static_cast<std::uint8_t>(rng());
    const signature sig = kp.sign(msg);
    ASSERT_TRUE(verify(msg, sig, kp.public_key_bytes())) << "iteration " << i;

    if (!msg.empty()) {
      auto m = msg;
      m[rng() % m.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      EXPECT_FALSE(verify(m, sig, kp.public_key_bytes()));
    }
    auto s = sig;
    s[rng() % s.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    EXPECT_FALSE(verify(msg, s, kp.public_key_bytes()));
    auto k = kp.public_key_bytes();
    k[rng() % k.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    EXPECT_FALSE(verify(msg, sig, k));
  }
}

TEST(Sr25519, EveryBitOfOneSignatureMatters) {
  const keypair kp = keypair::generate();
  const auto msg = as_bytes("{\"data\": {}, \"type\": \"heartbeat\"}");
  const signature sig = kp.sign(msg);
  for (std::size_t bit = 0; bit < sig.size() * 8; ++bit) {
    auto s = sig;
    s[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(verify(msg, s, kp.public_key_bytes())) << "bit " << bit;
  }
}

TEST(Sr25519, HostileLengthsNeverThrow) {
  const keypair kp = keypair::generate();
  const std::vector<std::uint8_t> empty;
  const std::vector<std::uint8_t> big(1000, 0xff);
  EXPECT_EQ(verify_detailed(empty, empty, empty), verify_result::bad_length);
  EXPECT_EQ(verify_detailed(big, big, kp.public_key_bytes()), verify_result::bad_length);
  EXPECT_EQ(verify_detailed(big, std::vector<std::uint8_t>(64, 0xff), kp.public_key_bytes()),
            verify_result::scalar_format);
}

}  // namespace
}  // namespace bettensor::crypto
