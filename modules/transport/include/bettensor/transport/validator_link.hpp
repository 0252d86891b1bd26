// The miner's connection to one validator: connect (with a timeout), authenticate, verify every
// frame (signature and sender = the validator hotkey dialled, timestamp window, nonce),
// heartbeats both ways, and on any failure reconnect after a jittered, growing delay (reset by a
// good handshake). Each link runs on its own strand, so one validator being down or slow never
// delays another.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bettensor/crypto/wallet.hpp"
#include "bettensor/protocol/messages.hpp"
#include "bettensor/transport/backoff.hpp"
#include "bettensor/transport/frame.hpp"

namespace bettensor::transport {

struct link_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 10401;
  std::string path = "/ws";
  std::string validator_ss58;  // the hotkey every frame must be signed by
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds heartbeat_interval{60};
  std::chrono::seconds silence_timeout{300};  // nothing received this long: reconnect
  std::chrono::seconds timestamp_window{300};
  backoff::duration reconnect_base = std::chrono::seconds(5);
  backoff::duration reconnect_max = std::chrono::seconds(300);
  std::size_t max_message_bytes = std::size_t{16} * 1024 * 1024;  // game updates can be large
  /// Frames waiting to be written; send() refuses more (the caller keeps them for later).
  std::size_t send_queue_frames = 4096;
  /// wss://: TLS, the validator's certificate checked against `tls_ca_file` (PEM) or, when that
  /// is empty, the system's trusted certificates, and its name against `host`.
  bool tls = false;
  std::string tls_ca_file;
  /// Offer permessage-deflate; used when the validator accepts it. Messages shorter than the
  /// threshold are sent uncompressed.
  bool compression = false;
  std::size_t compression_threshold = 1024;
};

/// The client TLS context a link with `cfg` uses (for a miner's --check-config and its HTTP
/// fallback); throws std::invalid_argument naming the CA file when it cannot be read.
void check_link_tls(const link_config& cfg);

class validator_link {
 public:
  struct callbacks {
    /// The welcome was received, with the uid it carried (the reference's carries none).
    std::function<void(std::optional<std::int64_t> uid)> on_connected;
    std::function<void(const protocol::envelope&)> on_message;  // every verified frame
    std::function<void(const std::string& why)> on_disconnected;
    std::function<void(const std::string& refusal)> on_refused;  // "Not authorized: ..."
    std::function<void(const std::string& why)> on_dropped;      // a frame failed verification
  };

  /// Throws std::invalid_argument for a bad validator address, reconnect intervals or CA file.
  validator_link(const boost::asio::any_io_executor& ex, link_config cfg, crypto::hotkey miner,
                 callbacks cb);
  ~validator_link();

  void start();
  /// Ends the link. Once stop() returns no callback runs (one in progress is waited for), so the
  /// objects the callbacks use may go away; stop() may also be called from a callback.
  void stop();
  /// Queues a frame in its kind's lane if connected and the queue has room; false otherwise.
  bool send(frame_ptr frame);
  [[nodiscard]] bool connected() const;
  [[nodiscard]] unsigned consecutive_failures() const;
  /// The delays waited before each reconnect so far (for logs and tests).
  [[nodiscard]] std::vector<backoff::duration> reconnect_delays() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace bettensor::transport
