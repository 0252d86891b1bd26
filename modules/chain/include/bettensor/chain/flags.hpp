// The flags both programs share for reading the metagraph from the chain, spelled as the
// Bittensor SDK spells them: --subtensor.network, --subtensor.chain_endpoint, --netuid, and the
// sync's own --metagraph.sync_interval and --metagraph.cache.
#pragma once

#include <filesystem>
#include <optional>

#include "bettensor/chain/metagraph_sync.hpp"
#include "bettensor/cli/options.hpp"

namespace bettensor::chain {

cli::po::options_description subtensor_options();

/// The sync settings when --subtensor.network or --subtensor.chain_endpoint is given, else
/// nullopt. The cache defaults to metagraph-<netuid>.json beside `data_file` (the database).
/// Throws cli::usage_error naming the flag.
std::optional<sync_config> subtensor_config(const cli::po::variables_map& vm,
                                            const std::filesystem::path& data_file);

/// "wss://... (netuid 30, every 300 s, cache ...)": what --check-config prints.
std::string describe(const sync_config& c);

}  // namespace bettensor::chain
