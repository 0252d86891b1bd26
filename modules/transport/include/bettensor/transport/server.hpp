// The validator's network side: an http_listener whose /ws upgrades become authenticated
// WebSocket sessions (ws_session.cpp), registered in a hub (hub.cpp), with heartbeats,
// broadcasts and a graceful stop (server.cpp). GET /ws/health is built in; every other path is
// the application's route table. Beast stays in the .cpp files.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bettensor/crypto/wallet.hpp"
#include "bettensor/metrics/metrics.hpp"
#include "bettensor/protocol/messages.hpp"
#include "bettensor/protocol/outcome.hpp"
#include "bettensor/protocol/replay_guard.hpp"
#include "bettensor/protocol/signing.hpp"
#include "bettensor/transport/frame.hpp"
#include "bettensor/transport/http_listener.hpp"

namespace boost::asio {
class io_context;
}

namespace bettensor::transport {

/// One authenticated miner connection. Thread-safe: calls are posted to the connection's strand.
class peer_connection {
 public:
  virtual ~peer_connection() = default;
  [[nodiscard]] virtual const std::string& hotkey() const = 0;
  [[nodiscard]] virtual std::int64_t uid() const = 0;
  [[nodiscard]] virtual const std::string& remote_address() const = 0;
  /// Queues an already serialised frame in its kind's lane. A full queue closes the connection
  /// ("Slow consumer").
  virtual void send(frame_ptr frame) = 0;
  /// Builds a frame where the connection's writes happen and queues it (a confirmation is
  /// signed there, without a hop through another thread).
  virtual void send_built(std::function<frame_ptr()>&& make) { send(make()); }
  /// Sends a close frame with `why`'s code and text (or `text`, when not empty) after the
  /// urgent frames already queued.
  virtual void close(protocol::close_reason why, std::string text) = 0;
  /// Counts a verdict on one of this connection's predictions (shown by the admin API).
  virtual void record_verdict(bool /*accepted*/) {}
};

/// The application's answer to an authenticated handshake.
struct auth_decision {
  bool accepted = false;
  protocol::error refusal;  // when not accepted: auth_error(errc::not_registered), ...
  std::int64_t uid = 0;
};

/// One connection as the hub sees it (for the admin API): taken under the hub's lock, so a
/// snapshot is consistent per connection, not across them.
struct session_info {
  bool authenticated = false;
  std::string hotkey;  // empty until authenticated
  std::int64_t uid = -1;
  std::string remote_address;
  std::chrono::system_clock::time_point connected_since;
  std::chrono::system_clock::time_point last_activity;  // the last frame received
  std::size_t queue_depth = 0;                          // frames waiting to be written
  std::uint64_t accepted = 0;                           // predictions accepted on this connection
  std::uint64_t refused = 0;                            // and refused
};

struct server_config {
  bool websocket_enabled = true;  // false: only HTTP is served, upgrades get 404
  std::string address = "0.0.0.0";
  std::uint16_t port = 10401;
  std::size_t max_connections = 4096;
  std::size_t max_message_bytes = std::size_t{64} * 1024;
  std::size_t max_http_body_bytes = std::size_t{64} * 1024;
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds heartbeat_interval{60};
  std::chrono::seconds connection_timeout{300};
  std::chrono::seconds timestamp_window = protocol::default_timestamp_window;
  double rate_limit_per_second = 100;    // token bucket refill per connection
  double rate_limit_burst = 400;         // bucket size
  std::size_t max_invalid_frames = 20;   // bad frames tolerated before close 1008
  std::size_t send_queue_frames = 1024;  // per connection
  /// Verification tables of the miners that send predictions (about 40 KB each), least
  /// recently used dropped first; 0 verifies every frame with the key bytes.
  std::size_t key_cache_bytes = std::size_t{64} << 20;
  /// Frames of one connection read back to back before they are handled together.
  std::size_t max_frame_batch = 16;
  std::chrono::seconds close_grace{3};  // a close handshake longer than this ends the socket
  /// wss:// and https://: a PEM certificate chain and its private key (both or neither). Plain
  /// ws:// is served when both are empty (e.g. behind a TLS-terminating proxy).
  std::string tls_cert_file;
  std::string tls_key_file;
  /// permessage-deflate for miners that offer it; messages shorter than the threshold are sent
  /// uncompressed (a confirmation gains nothing and would cost CPU).
  bool compression = false;
  std::size_t compression_threshold = 1024;
  /// Proxies (IP addresses) whose X-Forwarded-For header names the real client: logs, the admin
  /// endpoint's loopback check and HTTP requests then use that client's address. From anyone
  /// else the header is ignored, so it cannot be forged.
  std::vector<std::string> trusted_proxies;
  /// Where connection, frame and queue metrics go; a private registry when null.
  std::shared_ptr<metrics::validator_metrics> metrics;
  /// false: no socket is opened at all; the application's callbacks are driven directly (the
  /// fuzz targets run the validator's whole message path in-process this way).
  bool listen = true;
};

/// What the server does with a connection's first text frame: strict JSON, the handshake
/// checks (fields, SS58, timestamp window, signature), then `authorize`. Returns the peer and
/// the decision when accepted; otherwise the refusal text sent to the miner.
struct accepted_handshake {
  protocol::authenticated_peer peer;
  auth_decision decision;
};
protocol::result<accepted_handshake> check_handshake(
    std::string_view text, protocol::timestamp now, std::chrono::seconds window,
    const std::function<auth_decision(const protocol::authenticated_peer&)>& authorize);

/// The client behind a request that came from `peer` (an IP address): `peer` itself unless it
/// is one of `trusted_proxies`; then the last X-Forwarded-For entry that is not a trusted proxy
/// (entries further left were written by the client and prove nothing). A malformed entry
/// stops the walk at the last address that could be trusted.
std::string forwarded_client(std::string_view peer, std::string_view forwarded_for,
                             const std::vector<std::string>& trusted_proxies);

/// Loads the TLS certificate and key of `cfg` as the server would; throws std::runtime_error naming
/// the file and the reason when they cannot be used (for --check-config).
void check_tls(const server_config& cfg);

class server {
 public:
  struct callbacks {
    /// Registration, blacklist, uid. Called on the connection's strand.
    std::function<auth_decision(const protocol::authenticated_peer&)> authorize;
    /// After the welcome frame is queued (e.g. to send the current games).
    std::function<void(std::shared_ptr<peer_connection>)> on_authenticated;
    /// A verified envelope from an authenticated miner (the server counts only the handshake
    /// in bettensor_messages_total; the receiver counts what it handles).
    std::function<void(std::shared_ptr<peer_connection>, protocol::envelope)> on_message;
    /// Every HTTP path but GET /ws/health (which the server answers itself).
    route_table routes;
  };

  /// Binds and listens (port 0 picks a free port); throws std::system_error if it cannot, and
  /// std::runtime_error naming the file when the TLS certificate or key cannot be used, or the
  /// entry when a trusted proxy is not an IP address.
  server(boost::asio::io_context& ioc, server_config cfg, crypto::hotkey identity,
         std::shared_ptr<protocol::replay_guard> nonces, callbacks cb);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Starts accepting and the heartbeat loop.
  void start();
  /// Graceful stop: stop accepting, close every connection with 1001 "Server closing
  /// connection", wait for them (bounded by close_grace), then call `done`.
  void stop(std::function<void()> done);

  [[nodiscard]] std::uint16_t local_port() const;

  /// Signs an envelope from this validator and serialises it once.
  [[nodiscard]] frame_ptr make_frame(std::string_view type, boost::json::value data) const;
  /// The same frame from the canonical text of its data (no JSON object built).
  [[nodiscard]] frame_ptr make_frame_from_text(std::string_view type,
                                               std::string_view data_text) const;
  /// Queues one shared frame to every authenticated connection; returns how many.
  std::size_t broadcast(const frame_ptr& frame);
  /// Every connection, authenticated or not.
  [[nodiscard]] std::vector<session_info> sessions() const;
  /// Closes the connections whose hotkey matches `pred`, with `why` (and `text`, if not empty).
  void disconnect_if(const std::function<bool(const std::string& hotkey)>& pred,
                     protocol::close_reason why, const std::string& text);

  struct impl;  // implementation detail (server.cpp)

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace bettensor::transport
