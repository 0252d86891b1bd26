// The validators a miner delivers to: the --validator entries, then the metagraph's validators
// with a permit, a reachable axon and at least the stake floor (not the miner itself). The
// metagraph is the file's, re-read when it changes, or the chain's, installed by each sync.
// Not thread-safe: the miner's strand owns it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bettensor/domain/file_stamp.hpp"
#include "bettensor/domain/metagraph.hpp"
#include "bettensor/miner/miner_service.hpp"

namespace bettensor::miner::detail {

class validator_directory {
 public:
  /// Reads the metagraph file when one is given; throws std::runtime_error with the reason.
  validator_directory(const miner_options& opts, std::string own_hotkey);

  /// Re-reads the metagraph file if its stamp changed (or always when `force`). True when a new
  /// metagraph was installed; a file that does not parse keeps the previous one (logged).
  bool refresh(bool force);
  /// Installs a metagraph from the chain.
  void install(std::shared_ptr<const domain::metagraph> g);

  /// By validator hotkey: the flags' entries win over the metagraph's.
  [[nodiscard]] std::map<std::string, validator_endpoint> wanted() const;
  /// The metagraph in force (null without one).
  [[nodiscard]] const std::shared_ptr<const domain::metagraph>& graph() const { return graph_; }
  /// This miner's uid in the metagraph, if it is listed.
  [[nodiscard]] std::optional<std::int64_t> own_uid() const;

 private:
  std::vector<validator_endpoint> flagged_;
  std::optional<std::filesystem::path> file_;
  std::uint16_t ws_port_ = 0;
  bool tls_ = false;
  double min_stake_ = 0;
  std::string own_hotkey_;
  std::shared_ptr<const domain::metagraph> graph_;
  std::optional<domain::file_stamp> stamp_;
};

}  // namespace bettensor::miner::detail
