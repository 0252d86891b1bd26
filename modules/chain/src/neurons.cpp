#include "bettensor/chain/neurons.hpp"

#include <arpa/inet.h>

#include <limits>

#include "bettensor/crypto/ss58.hpp"

namespace bettensor::chain {

namespace {

constexpr std::uint64_t u16_max = std::numeric_limits<std::uint16_t>::max();

std::uint16_t compact_u16(scale_reader& r, const char* what) {
  return static_cast<std::uint16_t>(r.compact(what, u16_max));
}

axon_info read_axon(scale_reader& r) {
  axon_info a;
  a.block = r.u64();
  a.version = r.u32();
  a.ip = r.u128_le();
  a.port = r.u16();
  a.ip_type = r.u8();
  a.protocol = r.u8();
  r.u8();  // placeholder1
  r.u8();  // placeholder2
  return a;
}

void skip_prometheus(scale_reader& r) {
  r.u64();      // block
  r.u32();      // version
  r.u128_le();  // ip
  r.u16();      // port
  r.u8();       // ip_type
}

neuron_lite read_neuron(scale_reader& r) {
  neuron_lite n;
  n.hotkey = r.fixed<32>();
  n.coldkey = r.fixed<32>();
  n.uid = compact_u16(r, "uid");
  n.netuid = compact_u16(r, "netuid");
  n.active = r.boolean();
  n.axon = read_axon(r);
  skip_prometheus(r);
  const auto stakes = r.length("stake list", 33);
  for (std::size_t i = 0; i < stakes; ++i) {
    r.fixed<32>();  // the staking coldkey
    const auto amount = r.compact("stake");
    n.stake_rao = amount > UINT64_MAX - n.stake_rao ? UINT64_MAX : n.stake_rao + amount;
  }
  n.rank = compact_u16(r, "rank");
  n.emission = r.compact("emission");
  n.incentive = compact_u16(r, "incentive");
  n.consensus = compact_u16(r, "consensus");
  n.trust = compact_u16(r, "trust");
  n.validator_trust = compact_u16(r, "validator_trust");
  n.dividends = compact_u16(r, "dividends");
  n.last_update = r.compact("last_update");
  n.validator_permit = r.boolean();
  n.pruning_score = compact_u16(r, "pruning_score");
  return n;
}

}  // namespace

std::vector<neuron_lite> decode_neurons_lite(std::span<const std::uint8_t> bytes) {
  scale_reader r(bytes);
  const auto count = r.length("neuron list", min_neuron_lite_bytes);
  std::vector<neuron_lite> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    try {
      out.push_back(read_neuron(r));
    } catch (const scale_error& e) {
      throw scale_error("neuron " + std::to_string(i) + ": " + e.what());
    }
  }
  if (r.remaining() != 0)
    throw scale_error(std::to_string(r.remaining()) + " bytes after the last neuron");
  return out;
}

std::string neurons_lite_params(std::uint16_t netuid) {
  const std::array<std::uint8_t, 2> le{static_cast<std::uint8_t>(netuid & 0xffU),
                                       static_cast<std::uint8_t>(netuid >> 8U)};
  return to_hex(le);
}

std::string ip_to_string(const u128& ip, std::uint8_t ip_type) {
  if (ip.low == 0 && ip.high == 0) return {};
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (ip_type == 4) {
    if (ip.high != 0 || ip.low > 0xffffffffU) return {};
    const std::uint32_t host = static_cast<std::uint32_t>(ip.low);
    in_addr a{};
    a.s_addr = htonl(host);
    return ::inet_ntop(AF_INET, &a, text.data(), text.size()) ? std::string(text.data()) : "";
  }
  if (ip_type == 6) {
    in6_addr a{};
    for (int i = 0; i < 8; ++i) {
      a.s6_addr[i] = static_cast<std::uint8_t>(ip.high >> (56U - 8U * static_cast<unsigned>(i)));
      a.s6_addr[8 + i] = static_cast<std::uint8_t>(ip.low >> (56U - 8U * static_cast<unsigned>(i)));
    }
    return ::inet_ntop(AF_INET6, &a, text.data(), text.size()) ? std::string(text.data()) : "";
  }
  return {};
}

std::shared_ptr<const domain::metagraph> to_metagraph(std::int64_t netuid, std::int64_t block,
                                                      const std::vector<neuron_lite>& neurons) {
  std::vector<domain::neuron> list;
  list.reserve(neurons.size());
  for (const auto& n : neurons) {
    domain::neuron d;
    d.uid = n.uid;
    d.hotkey = crypto::ss58_encode(n.hotkey);
    d.validator_permit = n.validator_permit;
    d.stake = static_cast<double>(n.stake_rao) / 1e9;
    d.ip = ip_to_string(n.axon.ip, n.axon.ip_type);
    d.port = n.axon.port;
    list.push_back(std::move(d));
  }
  return domain::metagraph::make(netuid, block, std::move(list));
}

}  // namespace bettensor::chain
