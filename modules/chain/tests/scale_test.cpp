// SCALE reading and the NeuronInfoLite layout, on bytes written out by hand here. (The
// integration test checks the decoder against bytes encoded by @polkadot/types.)
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "bettensor/chain/metagraph_sync.hpp"
#include "bettensor/chain/neurons.hpp"
#include "bettensor/chain/scale.hpp"
#include "bettensor/crypto/ss58.hpp"
#include "bettensor/transport/json_rpc_client.hpp"

namespace bettensor::chain {
namespace {

using bytes = std::vector<std::uint8_t>;

std::uint64_t compact_of(const bytes& b) {
  scale_reader r(b);
  const auto v = r.compact("value");
  EXPECT_EQ(r.remaining(), 0u);
  return v;
}

TEST(ScaleTest, CompactIntegersInEachMode) {
  EXPECT_EQ(compact_of({0x00}), 0u);
  EXPECT_EQ(compact_of({0xfc}), 63u);
  EXPECT_EQ(compact_of({0x01, 0x01}), 64u);
  EXPECT_EQ(compact_of({0xfd, 0xff}), 16383u);
  EXPECT_EQ(compact_of({0x02, 0x00, 0x01, 0x00}), 16384u);
  EXPECT_EQ(compact_of({0xfe, 0xff, 0xff, 0xff}), (1U << 30U) - 1);
  EXPECT_EQ(compact_of({0x03, 0x00, 0x00, 0x00, 0x40}), 1U << 30U);
  EXPECT_EQ(compact_of({0x13, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), UINT64_MAX);
}

TEST(ScaleTest, NonCanonicalTooLargeAndTruncatedCompactsAreRefused) {
  for (const bytes& b :
       std::vector<bytes>{{0x01, 0x00},                          // 0 in the two-byte mode
                          {0x02, 0x00, 0x00, 0x00},              // 0 in the four-byte mode
                          {0x03, 0xff, 0xff, 0xff, 0x00},        // < 2^30 in the big mode
                          {0x07, 0x00, 0x00, 0x00, 0x40, 0x00},  // a zero top byte
                          {0x17, 0, 0, 0, 0, 0, 0, 0, 0, 1},     // 9 bytes: above 64 bits
                          {0x01},                                // truncated
                          {0x13, 0xff, 0xff},                    // truncated
                          {}}) {
    scale_reader r(b);
    EXPECT_THROW(r.compact("value"), scale_error);
  }
  const bytes above{0x02, 0x00, 0x04, 0x00};  // 65536
  scale_reader bounded(above);
  EXPECT_THROW(bounded.compact("uid", 65535), scale_error);
}

TEST(ScaleTest, BoolsAreZeroOrOne) {
  const bytes b{0, 1, 2};
  scale_reader r(b);
  EXPECT_FALSE(r.boolean());
  EXPECT_TRUE(r.boolean());
  EXPECT_THROW(r.boolean(), scale_error);
}

TEST(ScaleTest, AForgedVectorLengthIsRefusedBeforeAnyAllocation) {
  // 2^30 items announced, 3 bytes follow.
  const bytes b{0x03, 0x00, 0x00, 0x00, 0x40, 1, 2, 3};
  scale_reader r(b);
  try {
    r.length("neuron list", min_neuron_lite_bytes);
    FAIL() << "no error";
  } catch (const scale_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot fit"), std::string::npos) << e.what();
  }
}

TEST(ScaleTest, HexBothWays) {
  EXPECT_EQ(from_hex("0x00ff1A"), (bytes{0x00, 0xff, 0x1a}));
  EXPECT_EQ(from_hex(""), bytes{});
  EXPECT_THROW(from_hex("0x123"), scale_error);
  EXPECT_THROW(from_hex("0xzz"), scale_error);
  EXPECT_EQ(to_hex(bytes{0x1e, 0x00}), "0x1e00");
  EXPECT_EQ(neurons_lite_params(30), "0x1e00");
  EXPECT_EQ(neurons_lite_params(0x0102), "0x0201");
}

// A minimal SCALE writer for the layout test.
struct writer {
  bytes out;
  void le(std::uint64_t v, int n) {  // n may exceed 8 (a u128): the high bytes are zero
    for (int i = 0; i < n; ++i) out.push_back(i < 8 ? static_cast<std::uint8_t>(v >> (8 * i)) : 0);
  }
  void compact(std::uint64_t v) {
    if (v < 64) {
      le(v << 2U, 1);
    } else if (v < (1U << 14U)) {
      le((v << 2U) | 1U, 2);
    } else if (v < (1U << 30U)) {
      le((v << 2U) | 2U, 4);
    } else {
      int n = 0;
      for (auto x = v; x != 0; x >>= 8U) ++n;
      out.push_back(static_cast<std::uint8_t>(((n - 4) << 2) | 3));
      le(v, n);
    }
  }
  void key(std::uint8_t fill) { out.insert(out.end(), 32, fill); }
};

struct sample {
  std::uint8_t hotkey_fill;
  std::uint16_t uid;
  bool permit;
  std::vector<std::uint64_t> stakes;
  std::uint64_t ip;
  std::uint16_t port;
};

void write_neuron(writer& w, const sample& s, std::uint16_t netuid = 30) {
  w.key(s.hotkey_fill);
  w.key(0xcc);  // coldkey
  w.compact(s.uid);
  w.compact(netuid);
  w.out.push_back(1);  // active
  w.le(1234, 8);       // axon: block, version, ip (u128), port, ip_type, protocol, placeholders
  w.le(7, 4);
  w.le(s.ip, 8);
  w.le(0, 8);
  w.le(s.port, 2);
  w.out.insert(w.out.end(), {4, 4, 0, 0});
  w.le(0, 8);  // prometheus: block, version, ip, port, ip_type
  w.le(0, 4);
  w.le(0, 16);
  w.le(0, 2);
  w.out.push_back(0);
  w.compact(s.stakes.size());
  for (const auto stake : s.stakes) {
    w.key(0xdd);
    w.compact(stake);
  }
  for (int i = 0; i < 7; ++i) w.compact(i == 1 ? 1'000'000'000'000ULL : 100U * i);
  w.compact(5'000'000);  // last_update
  w.out.push_back(s.permit ? 1 : 0);
  w.compact(65535);  // pruning_score
}

bytes encode(const std::vector<sample>& list, std::uint16_t netuid = 30) {
  writer w;
  w.compact(list.size());
  for (const auto& s : list) write_neuron(w, s, netuid);
  return w.out;
}

TEST(NeuronsTest, DecodesTheLayoutOfNeuronInfoLite) {
  const auto b = encode({{0x11, 0, true, {2'000'000'000'000ULL, 500'000'000ULL}, 0x7f000001, 8091},
                         {0x22, 1, false, {}, 0, 0}});
  const auto n = decode_neurons_lite(b);
  ASSERT_EQ(n.size(), 2u);
  account_id first{};
  first.fill(0x11);
  EXPECT_EQ(n[0].hotkey, first);
  EXPECT_EQ(n[0].uid, 0);
  EXPECT_EQ(n[0].netuid, 30);
  EXPECT_TRUE(n[0].active);
  EXPECT_EQ(n[0].axon.port, 8091);
  EXPECT_EQ(n[0].axon.ip_type, 4);
  EXPECT_EQ(n[0].axon.block, 1234u);
  EXPECT_EQ(n[0].stake_rao, 2'000'500'000'000ULL);
  EXPECT_EQ(n[0].emission, 1'000'000'000'000ULL);
  EXPECT_EQ(n[0].last_update, 5'000'000u);
  EXPECT_TRUE(n[0].validator_permit);
  EXPECT_EQ(n[0].pruning_score, 65535);
  EXPECT_EQ(n[1].uid, 1);
  EXPECT_FALSE(n[1].validator_permit);

  const auto m = to_metagraph(30, 99, n);
  ASSERT_EQ(m->neurons().size(), 2u);
  EXPECT_EQ(m->block(), 99);
  EXPECT_EQ(m->neurons()[0].ip, "127.0.0.1");
  EXPECT_EQ(m->neurons()[0].port, 8091);
  EXPECT_DOUBLE_EQ(m->neurons()[0].stake, 2000.5);
  EXPECT_EQ(m->neurons()[1].ip, "");  // serves no axon
  crypto::public_key k{};
  k.fill(0x22);
  EXPECT_EQ(m->uid_of(crypto::ss58_encode(k)), 1);
  // The snapshot survives the cache file's format.
  const auto again = domain::metagraph::parse(m->to_json());
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->neurons().size(), 2u);
  EXPECT_EQ((*again)->uid_of(crypto::ss58_encode(k)), 1);
  EXPECT_EQ((*again)->neurons()[0].port, 8091);
  EXPECT_EQ((*again)->block(), 99);
}

TEST(NeuronsTest, EveryTruncationAndATrailingByteAreRefused) {
  const auto b = encode({{0x11, 0, true, {1}, 0x7f000001, 8091}, {0x22, 1, false, {}, 0, 0}});
  for (std::size_t n = 0; n < b.size(); ++n) {
    const bytes cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(decode_neurons_lite(cut), scale_error) << "length " << n;
  }
  auto longer = b;
  longer.push_back(0);
  EXPECT_THROW(decode_neurons_lite(longer), scale_error);
  EXPECT_TRUE(decode_neurons_lite(encode({})).empty());
}

TEST(NeuronsTest, AxonAddressesAsText) {
  EXPECT_EQ(ip_to_string({0x01020304, 0}, 4), "1.2.3.4");
  EXPECT_EQ(ip_to_string({0, 0}, 4), "");
  EXPECT_EQ(ip_to_string({0x1'0000'0000ULL, 0}, 4), "");  // not an IPv4 address
  EXPECT_EQ(ip_to_string({1, 0x20010db800000000ULL}, 6), "2001:db8::1");
  EXPECT_EQ(ip_to_string({1, 0}, 9), "");
}

TEST(RpcUrlTest, NodeAddresses) {
  auto u = transport::parse_rpc_url("wss://entrypoint-finney.opentensor.ai:443");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "entrypoint-finney.opentensor.ai");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/");
  u = transport::parse_rpc_url("ws://[::1]:9944/rpc");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->path, "/rpc");
  EXPECT_EQ(transport::to_string(*u), "ws://[::1]:9944/rpc");
  u = transport::parse_rpc_url("ws://127.0.0.1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, 80);
  for (const char* bad :
       {"http://x:1", "ws://:1", "ws://h:0", "ws://h:70000", "ws://h:x", "wss://[::1"})
    EXPECT_FALSE(transport::parse_rpc_url(bad)) << bad;
  EXPECT_EQ(network_endpoint("finney"), "wss://entrypoint-finney.opentensor.ai:443");
  EXPECT_EQ(network_endpoint("test"), "wss://test.finney.opentensor.ai:443");
  EXPECT_EQ(network_endpoint("local"), "ws://127.0.0.1:9944");
  EXPECT_EQ(network_endpoint("mainnet"), "");
}

}  // namespace
}  // namespace bettensor::chain
