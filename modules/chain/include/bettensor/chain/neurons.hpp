// The subnet's neurons as the chain's runtime API returns them:
// NeuronInfoRuntimeApi_get_neurons_lite(netuid: u16) -> Vec<NeuronInfoLite<AccountId32>>, whose
// layout is subtensor's pallets/subtensor/src/rpc_info/neuron_info.rs (AxonInfo and
// PrometheusInfo in pallets/subtensor/src/lib.rs). The SDK's metagraph reads the same call.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bettensor/chain/scale.hpp"
#include "bettensor/domain/metagraph.hpp"

namespace bettensor::chain {

using account_id = std::array<std::uint8_t, 32>;

struct axon_info {
  std::uint64_t block = 0;
  std::uint32_t version = 0;
  u128 ip;
  std::uint16_t port = 0;
  std::uint8_t ip_type = 0;  // 4 or 6
  std::uint8_t protocol = 0;
};

struct neuron_lite {
  account_id hotkey{};
  account_id coldkey{};
  std::uint16_t uid = 0;
  std::uint16_t netuid = 0;
  bool active = false;
  axon_info axon;
  std::uint64_t stake_rao = 0;  // the sum of the stake list, in rao (10^-9 of a unit)
  std::uint64_t emission = 0;
  std::uint16_t rank = 0;
  std::uint16_t incentive = 0;
  std::uint16_t consensus = 0;
  std::uint16_t trust = 0;
  std::uint16_t validator_trust = 0;
  std::uint16_t dividends = 0;
  std::uint64_t last_update = 0;
  bool validator_permit = false;
  std::uint16_t pruning_score = 0;
};

/// The smallest encoded NeuronInfoLite: every compact in one byte, an empty stake list.
inline constexpr std::size_t min_neuron_lite_bytes = 143;

/// Decodes the whole answer; throws scale_error on a truncated, malformed or over-long input.
std::vector<neuron_lite> decode_neurons_lite(std::span<const std::uint8_t> bytes);

/// The state_call data for a netuid: its u16, little-endian, as hex.
std::string neurons_lite_params(std::uint16_t netuid);

/// An axon's address as text: dotted IPv4 for type 4, RFC 5952 IPv6 for type 6; empty when the
/// neuron serves no axon (address 0) or the type is unknown.
std::string ip_to_string(const u128& ip, std::uint8_t ip_type);

/// The snapshot the programs use: SS58 hotkeys (prefix 42), stake in units (rao / 10^9), the
/// axon's address and port.
std::shared_ptr<const domain::metagraph> to_metagraph(std::int64_t netuid, std::int64_t block,
                                                      const std::vector<neuron_lite>& neurons);

}  // namespace bettensor::chain
