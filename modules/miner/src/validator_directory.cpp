#include "validator_directory.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace bettensor::miner::detail {

namespace {

bool is_unset_ip(const std::string& ip) {
  return ip.empty() || ip == "0.0.0.0" || ip == "0" || ip == "::";
}

}  // namespace

validator_directory::validator_directory(const miner_options& opts, std::string own_hotkey)
    : flagged_(opts.validators),
      file_(opts.metagraph_file),
      ws_port_(opts.metagraph_ws_port),
      tls_(opts.metagraph_tls),
      min_stake_(opts.validator_min_stake),
      own_hotkey_(std::move(own_hotkey)) {
  if (!file_) return;
  auto m = domain::metagraph::load(*file_);
  if (!m) throw std::runtime_error(m.error().message);
  graph_ = *m;
  stamp_ = domain::stamp_of(*file_);
}

bool validator_directory::refresh(bool force) {
  if (!file_) return false;
  const auto now = domain::stamp_of(*file_);
  if (!now || (!force && stamp_ && *now == *stamp_)) return false;
  stamp_ = now;
  auto m = domain::metagraph::load(*file_);
  if (!m) {
    spdlog::error("Keeping the previous metagraph: {}", m.error().message);
    return false;
  }
  graph_ = *m;
  spdlog::info("Metagraph re-read: block {}, {} neurons", graph_->block(),
               graph_->neurons().size());
  return true;
}

void validator_directory::install(std::shared_ptr<const domain::metagraph> g) {
  graph_ = std::move(g);
}

std::map<std::string, validator_endpoint> validator_directory::wanted() const {
  std::map<std::string, validator_endpoint> out;
  for (const auto& v : flagged_) out.emplace(v.hotkey, v);
  if (!graph_) return out;
  for (const auto& n : graph_->neurons()) {
    if (!n.validator_permit || is_unset_ip(n.ip) || n.hotkey == own_hotkey_) continue;
    if (n.stake < min_stake_) {
      spdlog::debug("Not dialing validator {} (uid {}): stake {} is below --validator_min_stake {}",
                    n.hotkey, n.uid, n.stake, min_stake_);
      continue;
    }
    const std::uint16_t port = ws_port_ != 0 ? ws_port_ : n.port;
    if (port == 0) continue;
    out.emplace(n.hotkey, validator_endpoint{n.ip, port, "/ws", n.hotkey, tls_});
  }
  return out;
}

std::optional<std::int64_t> validator_directory::own_uid() const {
  if (!graph_) return std::nullopt;
  return graph_->uid_of(own_hotkey_);
}

}  // namespace bettensor::miner::detail
