// A metagraph file as bettensor-validator and bettensor-miner read it (--metagraph.file), for the
// tests, the fuzz harness, the load generator and the demo: one writer instead of one each.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace bettensor::test {

struct neuron {
  std::int64_t uid = 0;
  std::string hotkey;
  bool validator_permit = false;
  double stake = 1.0;
  std::string ip = "0.0.0.0";  // 0.0.0.0: no axon served
  std::uint16_t port = 0;
};

/// A validator with a permit; reachable at 127.0.0.1:`port`, or serving no axon when `port` is 0.
inline neuron validator_neuron(std::int64_t uid, std::string hotkey, std::uint16_t port = 0,
                               double stake = 1000.0) {
  return {uid, std::move(hotkey), true, stake, port != 0 ? "127.0.0.1" : "0.0.0.0", port};
}

/// A miner: no permit, no axon.
inline neuron miner_neuron(std::int64_t uid, std::string hotkey, double stake = 1.0) {
  return {uid, std::move(hotkey), false, stake, "0.0.0.0", 0};
}

inline boost::json::object metagraph_json(const std::vector<neuron>& neurons,
                                          std::int64_t block = 1, std::int64_t netuid = 30) {
  boost::json::array list;
  for (const auto& n : neurons) {
    list.push_back(boost::json::object{{"uid", n.uid},
                                       {"hotkey", n.hotkey},
                                       {"validator_permit", n.validator_permit},
                                       {"stake", n.stake},
                                       {"axon", {{"ip", n.ip}, {"port", n.port}}}});
  }
  return {{"netuid", netuid}, {"block", block}, {"neurons", std::move(list)}};
}

/// Writes the file whole and then renames it into place, so a program polling it never reads
/// half of it.
inline void write_metagraph(const std::filesystem::path& file, const std::vector<neuron>& neurons,
                            std::int64_t block = 1) {
  const auto tmp = std::filesystem::path(file).concat(".tmp");
  std::ofstream(tmp) << boost::json::serialize(metagraph_json(neurons, block));
  std::filesystem::rename(tmp, file);
}

}  // namespace bettensor::test
