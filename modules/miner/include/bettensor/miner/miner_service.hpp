// The miner (SPEC.md section 8): one link per validator it knows (from the metagraph file and/or
// --validator), the games it was sent, a built-in strategy, a loopback API for an external model,
// and a durable outbox delivered over WebSocket, or over HTTP when a validator's WebSocket has
// been down longer than a grace period. Nothing accepted into the outbox is lost across restarts.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bettensor/chain/metagraph_sync.hpp"
#include "bettensor/crypto/wallet.hpp"
#include "bettensor/metrics/metrics.hpp"
#include "bettensor/protocol/error.hpp"
#include "bettensor/protocol/messages.hpp"
#include "bettensor/transport/validator_link.hpp"

namespace boost::asio {
class io_context;
}

namespace bettensor::miner {

/// A validator to dial: ws[s]://host:port[/path]@<validator-ss58>.
struct validator_endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string path = "/ws";
  std::string hotkey;
  bool tls = false;  // wss:// (and https:// for the HTTP fallback)
  bool operator==(const validator_endpoint&) const = default;
};

/// Parses "ws[s]://host:port[/path]@ss58" (IPv6 hosts in brackets); the error says what is wrong.
protocol::result<validator_endpoint> parse_validator_address(std::string_view text);
std::string to_string(const validator_endpoint& v);

enum class strategy { none, favorite, underdog };
protocol::result<strategy> parse_strategy(std::string_view name);

struct miner_options {
  std::vector<validator_endpoint> validators;           // --validator
  std::optional<std::filesystem::path> metagraph_file;  // validators with a permit and an IP
  std::optional<chain::sync_config> chain;  // or the metagraph from the chain (--subtensor.*)
  /// Metagraph validators staked below this (in units, as the SDK's metagraph.S) are not dialed.
  double validator_min_stake = 0;
  std::uint16_t metagraph_ws_port = 0;  // 0: dial the axon port listed in the metagraph
  bool metagraph_tls = false;           // dial the metagraph's validators with wss://
  std::chrono::milliseconds file_poll_interval{1000};
  bool websocket_enabled = true;  // false: deliver over HTTP only (needs http_fallback)
  transport::link_config link;    // timeouts, heartbeat and backoff for every validator
  std::filesystem::path db_path = "miner.db";
  bool http_fallback = true;
  std::chrono::milliseconds http_fallback_grace{10000};
  std::chrono::milliseconds http_timeout{10000};
  strategy strat = strategy::favorite;
  double wager = 10.0;
  std::string model_name = "bettensor-miner";
  /// The local model API (POST /predictions, GET /status); disabled when empty.
  std::optional<std::uint16_t> api_port;
  std::string api_address = "127.0.0.1";
  /// The process's metrics registry (also served at GET /metrics on the API); own one if null.
  std::shared_ptr<metrics::registry> metrics;
};

/// Observers for programs that show what happens (the demo) and for tests. Each runs on the
/// miner's strand, one at a time, and must not block.
struct miner_events {
  /// `uid`: the miner's, from the welcome or else the metagraph (nullopt when neither has it).
  std::function<void(const std::string& validator, std::optional<std::int64_t> uid)> connected;
  std::function<void(const std::string& validator, const std::string& why)> disconnected;
  std::function<void(const std::string& validator, const std::string& refusal)> refused;
  /// A verified game_update: how many games it carried and how many were new or newer.
  std::function<void(const std::string& validator, std::size_t games, std::size_t changed)>
      game_update;
  std::function<void(const protocol::team_game_prediction&)> prediction_stored;
  /// A validator's final answer. `round_trip` is known when this process sent it by WebSocket.
  std::function<void(const std::string& validator, const std::string& prediction_id, bool accepted,
                     const std::string& message,
                     std::optional<std::chrono::microseconds> round_trip, std::string_view via)>
      answered;
};

struct validator_status {
  validator_endpoint endpoint;
  bool connected = false;
  unsigned consecutive_failures = 0;
  std::size_t pending = 0;                                  // predictions it has not answered
  std::vector<std::chrono::milliseconds> reconnect_delays;  // waited so far, oldest first
};

struct miner_status {
  std::vector<validator_status> validators;
  std::size_t predictions = 0;  // in the outbox
  std::size_t games = 0;
};

class miner_service {
 public:
  /// Opens the store, reads the metagraph and binds the API; throws std::runtime_error naming the
  /// file, address or setting that is wrong.
  miner_service(boost::asio::io_context& ioc, miner_options opts, crypto::hotkey identity,
                miner_events events = {});
  ~miner_service();
  miner_service(const miner_service&) = delete;
  miner_service& operator=(const miner_service&) = delete;

  void start();
  /// Stops every link, the API and the timers, then calls `done` (the outbox is already durable).
  void stop(std::function<void()> done);
  /// Re-reads the metagraph file now (SIGHUP).
  void reload();

  /// The API's port once bound (0 when disabled).
  [[nodiscard]] std::uint16_t api_port() const;
  [[nodiscard]] const std::string& hotkey() const;
  /// The registry its metrics go to (for --metrics.port).
  [[nodiscard]] metrics::registry& metrics() const;

  /// Validates a prediction against the known game (the validator's texts), fills what the
  /// model left out, stores it in the outbox and sends it. Calls `done` on the miner's strand
  /// with the stored prediction or the rejection text.
  void submit(protocol::team_game_prediction p,
              std::function<void(protocol::result<protocol::team_game_prediction>)> done);

  /// A snapshot, delivered on the miner's strand.
  void status(std::function<void(miner_status)> done);

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace bettensor::miner
