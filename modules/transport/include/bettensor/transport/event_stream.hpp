// A response that stays open and carries events as they happen (server-sent events): the
// application pushes chunks from any thread and the listener writes them in order. A client
// that falls behind by more than the limit, or leaves, ends the stream; so does the listener's
// stop. Thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>

namespace bettensor::transport {

class event_stream {
 public:
  explicit event_stream(std::size_t max_queued_bytes = std::size_t{1} << 20)
      : max_(max_queued_bytes) {}

  /// Queues `chunk` (e.g. "event: x\ndata: {...}\n\n"). False once the stream has ended: the
  /// producer drops it then.
  bool push(std::string_view chunk);
  /// Ends the stream; what is queued is still written.
  void close();
  [[nodiscard]] bool closed() const;

  // --- the listener's side ---------------------------------------------------------------------
  /// What is queued, in order (empty when nothing is).
  std::string take();
  /// Called after each push and at close (from the pushing thread; it must only post).
  void on_ready(std::function<void()> wake);

 private:
  void wake() const;

  mutable std::mutex mutex_;
  std::string queued_;
  std::size_t max_;
  bool closed_ = false;
  std::function<void()> wake_;
};

/// One server-sent event: "event: <name>\ndata: <data>\n\n" (`data` must hold no newline).
std::string sse_event(std::string_view name, std::string_view data);

}  // namespace bettensor::transport
