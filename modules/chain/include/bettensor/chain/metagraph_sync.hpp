// The metagraph from the chain, kept current: every sync interval it reads the block number
// (chain_getHeader) and the subnet's neurons (state_call of NeuronInfoRuntimeApi_get_neurons_lite)
// from a subtensor node, and hands each good snapshot to its listener. A failed, malformed or
// empty answer keeps the last good snapshot in force, is logged and counted
// (bettensor_metagraph_syncs_total{outcome}), and is retried with growing, jittered delays. The
// last good snapshot is written to a cache file (the --metagraph.file format), so a restart
// without the chain still knows the subnet.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bettensor/domain/metagraph.hpp"
#include "bettensor/transport/json_rpc_client.hpp"

namespace prometheus {
class Registry;
}

namespace bettensor::chain {

/// The Bittensor SDK's names for the public networks (--subtensor.network).
/// finney: wss://entrypoint-finney.opentensor.ai:443, test: wss://test.finney.opentensor.ai:443,
/// local: ws://127.0.0.1:9944. Empty for an unknown name.
std::string network_endpoint(std::string_view network);

struct sync_config {
  transport::rpc_config rpc;
  std::uint16_t netuid = 30;
  std::chrono::milliseconds interval{300000};  // between good syncs
  std::chrono::milliseconds retry_base{1000};  // after a failure: jittered, doubling...
  std::chrono::milliseconds retry_max{60000};  // ...up to this (never above the interval)
  std::optional<std::filesystem::path> cache_file;
};

class metagraph_sync {
 public:
  /// Called on the sync's own strand with each good snapshot; must not block.
  using listener = std::function<void(std::shared_ptr<const domain::metagraph>)>;

  /// Reads the cache file if there is one (a missing or unreadable cache is logged, not fatal).
  /// Throws std::invalid_argument when the TLS settings cannot be used.
  metagraph_sync(const boost::asio::any_io_executor& ex, sync_config cfg, prometheus::Registry& r,
                 listener on_snapshot);
  ~metagraph_sync();
  metagraph_sync(const metagraph_sync&) = delete;
  metagraph_sync& operator=(const metagraph_sync&) = delete;

  /// The snapshot from the cache file, if it held one.
  [[nodiscard]] std::shared_ptr<const domain::metagraph> cached() const;
  /// Syncs now, then every interval.
  void start();
  /// Ends the loop (the listener is not called after this returns on the sync's strand).
  void stop();

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace bettensor::chain
