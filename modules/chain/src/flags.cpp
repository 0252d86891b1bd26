#include "bettensor/chain/flags.hpp"

#include <cmath>
#include <sstream>

namespace bettensor::chain {

cli::po::options_description subtensor_options() {
  cli::po::options_description o("The metagraph from the chain (instead of --metagraph.file)");
  o.add_options()("subtensor.network", cli::po::value<std::string>(),
                  "finney, test or local: the Bittensor SDK's endpoint for that network")(
      "subtensor.chain_endpoint", cli::po::value<std::string>(),
      "a subtensor node, ws://host:port or wss://host:port (wins over --subtensor.network)")(
      "netuid", cli::po::value<int>()->default_value(30), "the subnet")(
      "subtensor.timeout", cli::po::value<double>()->default_value(15),
      "seconds allowed to connect to the node and for each of its answers")(
      "metagraph.sync_interval", cli::po::value<double>()->default_value(300),
      "seconds between metagraph reads from the chain (after a failure: retries, jittered and "
      "doubling from 1 s, up to this)")(
      "metagraph.cache", cli::po::value<std::string>(),
      "the last good metagraph, used at start when the chain cannot be reached (default: "
      "metagraph-<netuid>.json beside the database)");
  return o;
}

std::optional<sync_config> subtensor_config(const cli::po::variables_map& vm,
                                            const std::filesystem::path& data_file) {
  std::string endpoint;
  if (vm.count("subtensor.chain_endpoint") != 0) {
    endpoint = vm["subtensor.chain_endpoint"].as<std::string>();
  } else if (vm.count("subtensor.network") != 0) {
    const auto& network = vm["subtensor.network"].as<std::string>();
    endpoint = network_endpoint(network);
    if (endpoint.empty())
      throw cli::usage_error("--subtensor.network must be finney, test or local (got '" + network +
                             "'); for another node use --subtensor.chain_endpoint");
  } else {
    return std::nullopt;
  }
  auto url = transport::parse_rpc_url(endpoint);
  if (!url) throw cli::usage_error("--subtensor.chain_endpoint: " + url.error());
  sync_config c;
  c.rpc.url = *url;
  const int netuid = vm["netuid"].as<int>();
  if (netuid < 0 || netuid > 65535)
    throw cli::usage_error("--netuid must be between 0 and 65535 (got " + std::to_string(netuid) +
                           ")");
  c.netuid = static_cast<std::uint16_t>(netuid);
  const auto ms = [](double seconds) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
  };
  c.rpc.timeout = ms(cli::positive_seconds(vm, "subtensor.timeout"));
  c.interval = ms(cli::positive_seconds(vm, "metagraph.sync_interval"));
  c.retry_base = std::min(c.retry_base, c.interval);
  c.retry_max = std::max(c.retry_base, std::min(c.retry_max, c.interval));
  if (vm.count("metagraph.cache") != 0) {
    c.cache_file = cli::expand_user(vm["metagraph.cache"].as<std::string>());
  } else {
    c.cache_file = data_file.parent_path() / ("metagraph-" + std::to_string(netuid) + ".json");
  }
  return c;
}

std::string describe(const sync_config& c) {
  std::ostringstream out;
  out << transport::to_string(c.rpc.url) << " (netuid " << c.netuid << ", every "
      << std::chrono::duration<double>(c.interval).count() << " s, cache "
      << (c.cache_file ? c.cache_file->string() : std::string("none")) << ")";
  return out.str();
}

}  // namespace bettensor::chain
