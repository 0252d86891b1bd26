#include <gtest/gtest.h>

#include <cstring>

#include "bettensor/crypto/keccak.hpp"
#include "bettensor/crypto/merlin.hpp"
#include "bettensor/test/vectors.hpp"

namespace bettensor::crypto {
namespace {

using test::hex;
using test::str;

TEST(Keccak, MatchesReferencePermutations) {
  const auto doc = test::load_vectors("merlin.json");
  const auto& cases = doc.at("keccak_f1600").as_array();
  ASSERT_GE(cases.size(), 2u);
  for (const auto& c : cases) {
    keccak_state st{};
    const auto in = hex(c.at("input_hex"));
    ASSERT_EQ(in.size(), 200u);
    std::memcpy(st.data(), in.data(), 200);
    keccak_f1600(st);
    std::vector<std::uint8_t> out(200);
    std::memcpy(out.data(), st.data(), 200);
    EXPECT_EQ(to_hex(out), str(c.at("output_hex"))) << str(c.at("name"));
  }
}

TEST(Strobe, InitialStateMatchesReference) {
  const auto doc = test::load_vectors("merlin.json");
  const auto& v = doc.at("strobe128_initial_state");
  strobe128 s(as_bytes(str(v.at("protocol_label_utf8"))));
  EXPECT_EQ(to_hex(s.state_bytes()), str(v.at("state_hex")));
  EXPECT_EQ(s.pos(), v.at("pos").to_number<int>());
  EXPECT_EQ(s.pos_begin(), v.at("pos_begin").to_number<int>());
  EXPECT_EQ(s.cur_flags(), v.at("cur_flags").to_number<int>());
}

// Replays a vector's operations on a transcript; returns how many outputs were compared.
int replay(const boost::json::value& vec) {
  transcript t(str(vec.at("transcript_label_utf8")));
  int compared = 0;
  for (const auto& op_v : vec.at("ops").as_array()) {
    const auto& op = op_v.as_object();
    const std::string kind = str(op.at("op"));
    const std::string label = str(op.at("label_utf8"));
    if (kind == "append_message") {
      t.append_message(label, hex(op.at("message_hex")));
    } else if (kind == "append_u64") {
      t.append_u64(label, std::stoull(str(op.at("value_u64"))));
    } else if (kind == "challenge_bytes") {
      std::vector<std::uint8_t> out(op.at("length").to_number<std::size_t>());
      t.challenge_bytes(label, out);
      EXPECT_EQ(to_hex(out), str(op.at("expected_hex"))) << str(vec.at("name")) << " " << label;
      ++compared;
    } else if (kind == "witness_bytes") {
      std::vector<std::vector<std::uint8_t>> seeds;
      for (const auto& s : op.at("nonce_seeds_hex").as_array()) seeds.push_back(hex(s));
      const auto random = hex(op.at("random_hex"));
      std::vector<std::uint8_t> out(op.at("length").to_number<std::size_t>());
      // The vectors use one or two seeds.
      if (seeds.size() == 1) {
        t.witness_bytes(label, {seeds[0]}, std::span<const std::uint8_t, 32>(random.data(), 32),
                        out);
      } else {
        EXPECT_EQ(seeds.size(), 2u);
        t.witness_bytes(label, {seeds[0], seeds[1]},
                        std::span<const std::uint8_t, 32>(random.data(), 32), out);
      }
      EXPECT_EQ(to_hex(out), str(op.at("expected_hex"))) << str(vec.at("name"));
      ++compared;
    } else {
      ADD_FAILURE() << "unknown op " << kind;
    }
  }
  return compared;
}

TEST(Merlin, PublishedVector) {
  transcript t("test protocol");
  t.append_message("some label", as_bytes("some data"));
  std::array<std::uint8_t, 32> out{};
  t.challenge_bytes("challenge", out);
  EXPECT_EQ(to_hex(out), "d5a21972d0d5fe320c0d263fac7fffb8145aa640af6e9bca177c03c7efcf0615");
}

TEST(Merlin, AllTranscriptVectors) {
  const auto doc = test::load_vectors("merlin.json");
  const auto& vectors = doc.at("vectors").as_array();
  ASSERT_FALSE(vectors.empty());
  for (const auto& v : vectors) EXPECT_GT(replay(v), 0) << str(v.at("name"));
}

TEST(Merlin, MessageInPiecesEqualsWholeMessage) {
  const std::string whole = "<Bytes>{\"a\": 1}</Bytes>";
  transcript a("t");
  transcript b("t");
  a.append_message("m", as_bytes(whole));
  b.append_message("m", {as_bytes("<Bytes>"), as_bytes("{\"a\": 1}"), as_bytes("</Bytes>")});
  std::array<std::uint8_t, 16> ca{};
  std::array<std::uint8_t, 16> cb{};
  a.challenge_bytes("c", ca);
  b.challenge_bytes("c", cb);
  EXPECT_EQ(ca, cb);
}

}  // namespace
}  // namespace bettensor::crypto

namespace bettensor::crypto {
namespace {

TEST(Merlin, Sr25519SigningTranscripts) {
  const auto doc = test::load_vectors("merlin.json");
  const auto& vectors = doc.at("sr25519_signing_transcripts").as_array();
  ASSERT_FALSE(vectors.empty());
  for (const auto& v : vectors) EXPECT_EQ(replay(v), 2) << str(v.at("name"));
}

}  // namespace
}  // namespace bettensor::crypto
