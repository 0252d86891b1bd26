// A fleet of idle, authenticated miner connections: they answer heartbeats as a miner does and
// note when each game update arrives. The connections and broadcast modes are built on it, and
// the latency mode uses it to keep recipients busy during broadcasts.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "common.hpp"

namespace bettensor::bench {

class fleet {
 public:
  // Connections run on `ioc`; `keys` must outlive the fleet.
  fleet(net::io_context& ioc, target to, const std::vector<crypto::hotkey>& keys);

  // Opens connections for keys [size(), n), at most `parallel` handshakes at a time. Thread-safe.
  void grow(std::size_t n, int parallel = 256);
  // Blocks until `n` connections are authenticated (true) or one failed or time ran out (false).
  bool wait_ready(std::size_t n, std::chrono::duration<double> timeout) const;

  // Starts watching for the games update whose first game id is "r<round>-g0".
  void expect_round(int round);
  // Blocks until `n` connections received the watched update; returns the last arrival time.
  std::optional<steady::time_point> wait_round(std::size_t n,
                                               std::chrono::duration<double> timeout) const;

  [[nodiscard]] std::size_t ready() const { return st_->ready; }
  [[nodiscard]] std::size_t failed() const { return st_->failed; }
  // Why the first failed connection failed ("" while none has).
  [[nodiscard]] std::string first_failure() const;
  [[nodiscard]] std::size_t closed() const { return st_->closed; }
  [[nodiscard]] std::uint64_t heartbeats() const { return st_->heartbeats; }
  [[nodiscard]] std::size_t update_bytes() const { return st_->update_bytes; }
  // Connections that received at least one heartbeat since reset_heartbeats().
  [[nodiscard]] std::size_t heartbeat_connections() const { return st_->hb_connections; }
  void reset_heartbeats();
  void stop() { st_->stopping = true; }

  struct state {
    std::atomic<std::size_t> started{0};
    std::atomic<std::size_t> ready{0};
    std::atomic<std::size_t> failed{0};
    std::atomic<std::size_t> closed{0};
    std::atomic<std::uint64_t> heartbeats{0};
    std::atomic<std::size_t> hb_connections{0};
    std::atomic<std::uint64_t> hb_epoch{1};
    std::atomic<int> round{-1};
    std::atomic<std::size_t> arrived{0};
    std::atomic<steady::rep> last_arrival{0};
    std::atomic<std::size_t> update_bytes{0};  // size of the last watched update received
    std::atomic<bool> stopping{false};
    std::mutex failure_mutex;
    std::string first_failure;  // guarded by failure_mutex
  };

 private:
  net::io_context& ioc_;
  target to_;
  const std::vector<crypto::hotkey>& keys_;
  std::shared_ptr<state> st_ = std::make_shared<state>();
  std::mutex grow_mutex_;
};

}  // namespace bettensor::bench
