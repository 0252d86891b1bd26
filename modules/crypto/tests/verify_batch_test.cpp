// Prepared keys and batch verification give exactly the single-signature verdicts.
#include <gtest/gtest.h>

#include <sodium.h>

#include <map>
#include <random>

#include "bettensor/crypto/key_cache.hpp"
#include "bettensor/crypto/ristretto_vartime.hpp"
#include "bettensor/crypto/sr25519.hpp"
#include "bettensor/test/vectors.hpp"

namespace bettensor::crypto {
namespace {

using test::hex;
using test::str;

using byte_vector = std::vector<std::uint8_t>;

public_key to_key(const byte_vector& v) {
  public_key k{};
  std::copy(v.begin(), v.end(), k.begin());
  return k;
}

// Batch verdicts over `items` by `key` against verify_bittensor one at a time.
void expect_batch_matches_single(const std::vector<std::pair<byte_vector, byte_vector>>& items,
                                 const verifying_key& key) {
  std::vector<signed_message> batch;
  batch.reserve(items.size());
  for (const auto& [msg, sig] : items) batch.push_back({msg, sig});
  std::vector<bool> expected;
  expected.reserve(items.size());
  bool all_valid = true;
  for (const auto& [msg, sig] : items) {
    expected.push_back(verify_bittensor(msg, sig, key.bytes()));
    all_valid = all_valid && verify_detailed(msg, sig, key.bytes()) == verify_result::valid;
  }
  auto out = std::make_unique<bool[]>(items.size());
  const bool held = verify_bittensor_batch(batch, key, std::span(out.get(), items.size()));
  for (std::size_t i = 0; i < items.size(); ++i) EXPECT_EQ(out[i], expected[i]) << "item " << i;
  if (items.size() > 1) {
    EXPECT_EQ(held, all_valid);
  }
}

TEST(PreparedKey, EverySignatureVectorGivesTheSameVerdictAsTheKeyBytes) {
  const auto doc = test::load_vectors("sr25519.json");
  int prepared = 0;
  for (const auto& s : doc.at("signatures").as_array()) {
    SCOPED_TRACE(str(s.at("name")));
    const auto msg = hex(s.at("message_hex"));
    const auto sig = hex(s.at("signature_hex"));
    const auto key = hex(s.at("public_key_hex"));
    if (key.size() != public_key_size) continue;
    const auto vk = verifying_key::make(to_key(key));
    const verify_result plain = verify_detailed(msg, sig, key);
    if (!vk) {  // only keys that do not decode (or the identity) cannot be prepared
      EXPECT_TRUE(plain == verify_result::invalid_key || plain == verify_result::identity_key ||
                  plain == verify_result::bad_length || plain == verify_result::not_marked ||
                  plain == verify_result::scalar_format)
          << to_string(plain);
      EXPECT_FALSE(vartime::is_valid_point(std::span<const std::uint8_t, 32>(key.data(), 32)) &&
                   sodium_is_zero(key.data(), key.size()) == 0);
      continue;
    }
    ++prepared;
    EXPECT_EQ(verify_detailed({msg}, sig, *vk), plain);
    EXPECT_EQ(verify_bittensor(msg, sig, *vk), verify_bittensor(msg, sig, key));
  }
  EXPECT_GE(prepared, 30);
}

TEST(PreparedKey, IdentityAndInvalidKeysAreNotPrepared) {
  EXPECT_EQ(verifying_key::make(public_key{}), nullptr);
  public_key bad{};
  bad.fill(0xff);
  EXPECT_EQ(verifying_key::make(bad), nullptr);
}

TEST(PreparedKey, TablesGiveTheSameGroupOperationOnRandomAndEdgeScalars) {
  std::mt19937_64 rng(20261202);
  std::vector<std::array<std::uint8_t, 32>> scalars;
  std::array<std::uint8_t, 32> edge{};
  scalars.push_back(edge);  // 0
  edge[0] = 1;
  scalars.push_back(edge);  // 1
  edge.fill(0xff);
  edge[31] = 0x7f;
  scalars.push_back(edge);  // 2^255 - 1: the largest the group operation takes
  edge.fill(0);
  edge[31] = 0x10;
  scalars.push_back(edge);  // 2^252
  edge.fill(0x55);
  edge[31] = 0x05;
  scalars.push_back(edge);
  for (int i = 0; i < 40; ++i) {
    std::array<std::uint8_t, 32> r{};
    crypto_core_ristretto255_scalar_random(r.data());
    if (i % 4 == 0) r[31] |= 0x70;  // some above l, as a forged s might be before the check
    scalars.push_back(r);
  }
  for (int round = 0; round < 8; ++round) {
    std::array<std::uint8_t, 32> a{};
    crypto_core_ristretto255_random(a.data());
    auto tables = vartime::make_key_tables(a);
    ASSERT_TRUE(tables);
    for (int i = 0; i < 60; ++i) {
      const auto& s = scalars[rng() % scalars.size()];
      const auto& k = scalars[rng() % scalars.size()];
      const auto plain = vartime::base_mul_sub(s, k, a);
      ASSERT_TRUE(plain);
      EXPECT_EQ(vartime::base_mul_sub(s, k, *tables), *plain);
    }
  }
}

TEST(BatchVerify, SignatureVectorsByOneKeyGiveTheSingleVerdicts) {
  const auto doc = test::load_vectors("sr25519.json");
  std::map<std::string, std::vector<std::pair<byte_vector, byte_vector>>> by_key;
  for (const auto& s : doc.at("signatures").as_array()) {
    by_key[str(s.at("public_key_hex"))].emplace_back(hex(s.at("message_hex")),
                                                     hex(s.at("signature_hex")));
  }
  int batches = 0;
  for (const auto& [key_hex, items] : by_key) {
    SCOPED_TRACE(key_hex);
    const auto key = hex(boost::json::string(key_hex));
    if (key.size() != public_key_size) continue;
    const auto vk = verifying_key::make(to_key(key));
    if (!vk) continue;
    expect_batch_matches_single(items, *vk);
    // Each vector also inside a batch of valid signatures by the same key cannot be told apart
    // from the others only when the key's secret is known; the verdicts still must match.
    auto doubled = items;
    doubled.insert(doubled.end(), items.begin(), items.end());
    expect_batch_matches_single(doubled, *vk);
    ++batches;
  }
  EXPECT_GE(batches, 5);
}

// Random mutations of a batch of valid signatures: each kind of damage, at random positions,
// in batches of 2 to 100 (more than one equation).
TEST(BatchVerify, RandomMutationsGiveTheSingleVerdicts) {
  std::mt19937_64 rng(424242);
  const keypair kp = keypair::generate();
  const auto vk = verifying_key::make(kp.public_key_bytes());
  ASSERT_TRUE(vk);
  const std::string open = "<Bytes>";
  const std::string close = "</Bytes>";
  for (int round = 0; round < 60; ++round) {
    const std::size_t n = round % 10 == 9 ? 100 : 2 + rng() % 63;
    std::vector<std::pair<byte_vector, byte_vector>> items;
    items.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      byte_vector msg(50 + rng() % 400);
      for (auto& b : msg) b = static_cast<std::uint8_t>(rng());
      const auto sig = kp.sign(msg);
      items.emplace_back(msg, byte_vector(sig.begin(), sig.end()));
    }
    const int mutations = round % 3 == 0 ? 0 : static_cast<int>(1 + rng() % 3);
    for (int m = 0; m < mutations; ++m) {
      auto& [msg, sig] = items[rng() % n];
      switch (rng() % 7) {
        case 0:
          msg[rng() % msg.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          sig[rng() % 32] ^= static_cast<std::uint8_t>(1u << (rng() % 8));  // R
          break;
        case 2:
          sig[32 + rng() % 31] ^= static_cast<std::uint8_t>(1u << (rng() % 8));  // s
          break;
        case 3:
          sig[63] &= 0x7f;  // not marked
          break;
        case 4:
          sig[63] |= 0x70;  // s >= l
          break;
        case 5: {  // signed over the <Bytes> wrapping: valid only with the retry
          byte_vector wrapped(open.begin(), open.end());
          wrapped.insert(wrapped.end(), msg.begin(), msg.end());
          wrapped.insert(wrapped.end(), close.begin(), close.end());
          const auto s = kp.sign(wrapped);
          sig.assign(s.begin(), s.end());
          break;
        }
        default:
          sig.resize(rng() % 64);  // wrong length
          break;
      }
    }
    SCOPED_TRACE("round " + std::to_string(round));
    expect_batch_matches_single(items, *vk);
  }
}

// Two wrong signatures whose errors cancel when added (s + d and s - d) must still fail: the
// random weights keep one error from hiding another.
TEST(BatchVerify, ErrorsThatCancelInASumAreCaught) {
  const keypair kp = keypair::generate();
  const auto vk = verifying_key::make(kp.public_key_bytes());
  ASSERT_TRUE(vk);
  const byte_vector m1{1, 2, 3};
  const byte_vector m2{4, 5, 6};
  auto s1 = kp.sign(m1);
  auto s2 = kp.sign(m2);
  std::array<std::uint8_t, 32> d{};
  d[0] = 5;
  std::array<std::uint8_t, 32> v{};
  std::copy_n(s1.begin() + 32, 32, v.begin());
  v[31] &= 0x7f;
  crypto_core_ristretto255_scalar_add(v.data(), v.data(), d.data());
  std::copy_n(v.begin(), 32, s1.begin() + 32);
  s1[63] |= 0x80;
  std::copy_n(s2.begin() + 32, 32, v.begin());
  v[31] &= 0x7f;
  crypto_core_ristretto255_scalar_sub(v.data(), v.data(), d.data());
  std::copy_n(v.begin(), 32, s2.begin() + 32);
  s2[63] |= 0x80;
  const std::vector<signed_message> batch{{m1, s1}, {m2, s2}};
  bool out[2] = {true, true};
  EXPECT_FALSE(verify_bittensor_batch(batch, *vk, out));
  EXPECT_FALSE(out[0]);
  EXPECT_FALSE(out[1]);
}

TEST(KeyCache, KeepsTheMostRecentlyUsedKeysWithinItsBytes) {
  verifying_key_cache cache(3 * verifying_key::memory_bytes() + 100);
  ASSERT_EQ(cache.capacity(), 3u);
  std::vector<keypair> keys;
  keys.reserve(4);
  for (int i = 0; i < 4; ++i) keys.push_back(keypair::generate());
  const auto first = cache.get(keys[0].public_key_bytes());
  ASSERT_TRUE(first);
  EXPECT_EQ(first->bytes(), keys[0].public_key_bytes());
  ASSERT_TRUE(cache.get(keys[1].public_key_bytes()));
  ASSERT_TRUE(cache.get(keys[2].public_key_bytes()));
  EXPECT_EQ(cache.get(keys[0].public_key_bytes()), first);  // a hit: 0 is now the newest
  verifying_key_cache::lookup what;
  ASSERT_TRUE(cache.get(keys[3].public_key_bytes(), &what));  // evicts 1, the oldest
  EXPECT_TRUE(what.built);
  EXPECT_EQ(what.evicted, 1u);
  auto s = cache.snapshot();
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.bytes, 3 * verifying_key::memory_bytes());
  EXPECT_EQ(s.builds, 4u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(cache.get(keys[0].public_key_bytes()), first);
  ASSERT_TRUE(cache.get(keys[1].public_key_bytes()));  // built again
  s = cache.snapshot();
  EXPECT_EQ(s.builds, 5u);
  EXPECT_EQ(s.evictions, 2u);
  // An evicted key still verifies for whoever holds it.
  const std::vector<std::uint8_t> msg{9, 9, 9};
  EXPECT_TRUE(verify_bittensor(msg, keys[0].sign(msg), *first));
}

TEST(KeyCache, HoldsNothingBelowOneKeyAndRefusesInvalidKeys) {
  verifying_key_cache none(verifying_key::memory_bytes() - 1);
  EXPECT_EQ(none.get(keypair::generate().public_key_bytes()), nullptr);
  verifying_key_cache cache(1 << 20);
  EXPECT_EQ(cache.get(public_key{}), nullptr);  // the identity
  EXPECT_EQ(cache.snapshot().entries, 0u);
}

}  // namespace
}  // namespace bettensor::crypto
