// The one writer of a WebSocket: a bounded queue in three priority lanes and the coroutine that
// drains it, then sends the close frame once the urgent frames before it are out. The
// validator's sessions and the miner's links both write through it (private to the module).
// Everything runs on the channel's strand.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include "asio_support.hpp"
#include "bettensor/metrics/metrics.hpp"
#include "frame_lanes.hpp"
#include "ws_channel.hpp"

namespace bettensor::transport::detail {

class frame_writer {
 public:
  enum class pushed { queued, full, closed };

  frame_writer(const net::any_io_executor& ex, std::size_t limit) : wake_(ex), limit_(limit) {}

  /// Queues `f` in its lane: full when `limit` frames wait (the caller decides what a full
  /// queue means), closed once a close was requested or the writer stopped.
  pushed push(frame_ptr f) {
    if (close_ || stopped_) return pushed::closed;
    if (queued_ >= limit_) return pushed::full;
    lanes_.push(std::move(f));
    ++queued_;
    wake_.cancel_one();
    return pushed::queued;
  }

  /// The close frame to send after the urgent frames already queued; the first one given wins.
  void close_after_urgent(websocket::close_reason why) {
    if (close_ || stopped_) return;
    close_ = std::move(why);
    wake_.cancel_one();
  }
  [[nodiscard]] bool closing() const { return close_.has_value(); }

  /// Ends run() without a close frame (the read side has ended or the socket is gone).
  void stop() {
    stopped_ = true;
    wake_.cancel();
  }

  [[nodiscard]] std::size_t depth() const { return queued_; }

  /// Writes until stopped or closed. `on_pop()` is called as a frame leaves the queue,
  /// `on_written(frames, cpu)` once one write has sent `frames` (one, or several that waited;
  /// cpu: the write stage's sampled CPU seconds per frame, 0 when not timed). A failed write
  /// closes the socket.
  template <class OnPop, class OnWritten>
  net::awaitable<void> run(ws_channel& ws, OnPop on_pop, OnWritten on_written) {
    for (;;) {
      if (stopped_) co_return;
      if (close_ && lanes_.empty(priority::urgent)) {
        auto [ec] = co_await ws.close(*close_);
        if (ec) ws.tcp().socket().close();
        co_return;
      }
      frame_ptr next = lanes_.pop();
      if (!next) {
        gathered_ = {};  // an idle connection holds no batch memory
        buffers_ = {};
        wake_.expires_at(steady::time_point::max());
        co_await wake_.async_wait(use_nothrow);
        continue;
      }
      --queued_;
      on_pop();
      // The write stage of the validator's confirmations, sampled (metrics::stage_sampled).
      const bool timed = next->kind == protocol::frame_kind::confirmation &&
                         metrics::stage_sampled(metrics::stage::write);
      double cpu = 0;
      if (close_ || lanes_.empty()) {  // a pending close goes out after the urgent frames alone
        auto [ec, n] = co_await ws.write(net::buffer(next->text), timed ? &cpu : nullptr);
        if (ec) {
          ws.tcp().socket().close();
          co_return;
        }
        on_written(std::span<const frame_ptr>(&next, 1),
                   timed ? cpu * metrics::stage_sample_every : 0.0);
        continue;
      }
      // Several frames wait: they go out together, in one system call where the stream allows.
      gathered_.clear();
      buffers_.clear();
      std::size_t bytes = next->text.size();
      gathered_.push_back(std::move(next));
      while (gathered_.size() < max_gathered && bytes < max_gathered_bytes) {
        frame_ptr more = lanes_.pop();
        if (!more) break;
        --queued_;
        on_pop();
        bytes += more->text.size();
        gathered_.push_back(std::move(more));
      }
      for (const auto& f : gathered_) buffers_.push_back(net::buffer(f->text));
      auto [ec, n] = co_await ws.write_all(buffers_, timed ? &cpu : nullptr);
      if (ec) {
        ws.tcp().socket().close();
        co_return;
      }
      // The sampled CPU is shared by the frames written together.
      on_written(
          std::span<const frame_ptr>(gathered_),
          timed ? cpu * metrics::stage_sample_every / static_cast<double>(gathered_.size()) : 0.0);
    }
  }

 private:
  // At most this many frames, and about this many bytes, are written together.
  static constexpr std::size_t max_gathered = 16;
  static constexpr std::size_t max_gathered_bytes = std::size_t{64} * 1024;

  frame_lanes lanes_;
  std::vector<frame_ptr> gathered_;  // the frames being written together, kept alive
  std::vector<net::const_buffer> buffers_;
  net::steady_timer wake_;
  std::size_t limit_;
  std::size_t queued_ = 0;
  std::optional<websocket::close_reason> close_;
  bool stopped_ = false;
};

}  // namespace bettensor::transport::detail
