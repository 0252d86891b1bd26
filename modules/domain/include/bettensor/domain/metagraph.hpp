// Who may connect: the metagraph snapshot file and the blacklist file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bettensor/protocol/error.hpp"

namespace bettensor::domain {

struct neuron {
  std::int64_t uid = 0;
  std::string hotkey;
  bool validator_permit = false;
  double stake = 0;
  std::string ip;
  std::uint16_t port = 0;
};

/// A metagraph snapshot: {"netuid":30,"block":N,"neurons":[{"uid","hotkey","validator_permit",
/// "stake","axon":{"ip","port"}}]}.
class metagraph {
 public:
  static protocol::result<std::shared_ptr<const metagraph>> load(const std::filesystem::path& file);
  static protocol::result<std::shared_ptr<const metagraph>> parse(std::string_view text);
  /// A snapshot of the given neurons (from the chain); hotkeys must be SS58 addresses.
  static std::shared_ptr<const metagraph> make(std::int64_t netuid, std::int64_t block,
                                               std::vector<neuron> neurons);
  /// The snapshot in the file format load() reads.
  [[nodiscard]] std::string to_json() const;

  [[nodiscard]] std::optional<std::int64_t> uid_of(const std::string& hotkey) const;
  [[nodiscard]] const std::vector<neuron>& neurons() const { return neurons_; }
  [[nodiscard]] std::int64_t netuid() const { return netuid_; }
  [[nodiscard]] std::int64_t block() const { return block_; }

 private:
  std::int64_t netuid_ = 0;
  std::int64_t block_ = 0;
  std::vector<neuron> neurons_;
  std::unordered_map<std::string, std::int64_t> uid_by_hotkey_;
};

/// One SS58 hotkey per line; blank lines and '#' comments ignored.
class blacklist {
 public:
  static protocol::result<std::shared_ptr<const blacklist>> load(const std::filesystem::path& file);
  [[nodiscard]] bool contains(const std::string& hotkey) const { return hotkeys_.contains(hotkey); }
  [[nodiscard]] std::size_t size() const { return hotkeys_.size(); }

 private:
  std::unordered_set<std::string> hotkeys_;
};

}  // namespace bettensor::domain
