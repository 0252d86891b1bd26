// One miner's WebSocket connection to the validator (private to the module): the handshake, the
// verified frames handed to the application, and the writer. What it may do is decided by its
// session_policy; everything runs on the connection's strand, and other threads reach it through
// post().
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "asio_support.hpp"
#include "bettensor/crypto/key_cache.hpp"
#include "bettensor/transport/server.hpp"
#include "bettensor/transport/session_policy.hpp"
#include "frame_writer.hpp"
#include "http_listener_impl.hpp"
#include "hub.hpp"
#include "ws_channel.hpp"

namespace bettensor::transport::detail {

/// The most frames of one connection handled together (server_config::max_frame_batch).
inline constexpr std::size_t max_frame_batch = crypto::vartime::max_batch_terms;

/// What every session of one server reads: its settings, identity, callbacks and hub.
struct ws_shared {
  ws_shared(server_config c, crypto::hotkey id, std::shared_ptr<protocol::replay_guard> n,
            server::callbacks cbs);

  [[nodiscard]] frame_ptr make_frame(std::string_view type, boost::json::value data) const {
    return std::make_shared<const frame>(
        frame{protocol::serialize(protocol::sign_envelope(identity, type, std::move(data))),
              protocol::kind_of_type(type)});
  }
  [[nodiscard]] frame_ptr make_frame_from_text(std::string_view type,
                                               std::string_view data_text) const {
    return std::make_shared<const frame>(frame{
        protocol::sign_envelope_text(identity, type, data_text), protocol::kind_of_type(type)});
  }
  [[nodiscard]] session_limits limits() const;

  server_config cfg;
  std::shared_ptr<metrics::registry> own_registry;  // only without cfg.metrics
  metrics::validator_metrics* m = nullptr;
  crypto::hotkey identity;
  std::shared_ptr<protocol::replay_guard> nonces;
  server::callbacks cb;
  detail::hub hub;
  crypto::verifying_key_cache key_cache;
  std::atomic<bool> stopping{false};
};

class ws_session final : public peer_connection, public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(std::shared_ptr<ws_shared> shared, std::unique_ptr<ws_channel> ws, std::string remote);

  [[nodiscard]] const std::string& hotkey() const override { return hotkey_; }
  [[nodiscard]] std::int64_t uid() const override { return uid_; }
  [[nodiscard]] const std::string& remote_address() const override { return remote_; }
  void send(frame_ptr frame) override;
  void send_built(std::function<frame_ptr()>&& make) override;
  void close(protocol::close_reason why, std::string text) override;
  void record_verdict(bool accepted) override {
    (accepted ? accepted_ : refused_).fetch_add(1, std::memory_order_relaxed);
  }

  /// Set once on the strand before the session joins the hub under its hotkey.
  [[nodiscard]] bool is_authenticated() const {
    return authenticated_.load(std::memory_order_acquire);
  }
  /// For the hub's snapshot, from any thread.
  [[nodiscard]] session_info info() const;

  /// Runs the connection from the upgrade request to its end.
  static net::awaitable<void> run(std::shared_ptr<ws_session> self, http_request_message req);

 private:
  net::awaitable<void> read_loop();
  static net::awaitable<void> write_loop(std::shared_ptr<ws_session> self);
  // The watchdog: a timer and its handler (no coroutine frame of its own per connection).
  static void watch(std::shared_ptr<ws_session> self);

  void enqueue(frame_ptr frame);
  void request_close(protocol::close_reason why, std::string text = {});
  void refuse(const protocol::error& refusal);
  void reply_error(const std::string& message);
  void authenticate(std::string_view text);
  // The frames read back to back (pending_ of them, in buffers_), in order: parsed and checked,
  // their signatures verified together where they share the key, then handed on.
  void handle_pending();
  void refuse_frame(const std::string& message);
  [[nodiscard]] std::shared_ptr<const crypto::verifying_key> prepared_key();
  void touch(steady::time_point now);

  std::shared_ptr<ws_shared> shared_;
  std::unique_ptr<ws_channel> ws_;  // plain or TLS
  net::steady_timer watchdog_;
  std::string remote_;
  std::chrono::system_clock::time_point connected_since_;
  steady::time_point opened_;
  session_policy policy_;
  frame_writer writer_;
  bool dead_ = false;  // the read side has ended; the watchdog stops

  // Frames read but not yet handled: one buffer per frame, kept (with its capacity) for the
  // connection's next burst. Idle connections only ever use the first.
  std::vector<beast::flat_buffer> buffers_;
  std::size_t pending_ = 0;
  struct pending_frame {
    std::optional<protocol::envelope> envelope;
    protocol::signature_pending signed_text;
    std::string refusal;  // why the frame is refused, when it is
    bool verified = false;
  };
  std::vector<pending_frame> batch_;

  std::atomic<bool> authenticated_{false};
  std::string hotkey_;
  crypto::public_key key_{};
  std::int64_t uid_ = -1;
  // Mirrors for info(): the last frame's time (steady clock ticks) and the queue depth.
  std::atomic<steady::rep> last_activity_{0};
  std::atomic<std::size_t> depth_{0};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> refused_{0};

  hub::membership membership_;  // last: leaves the hub before the rest is destroyed
};

}  // namespace bettensor::transport::detail
