#include "bettensor/transport/event_stream.hpp"

#include <utility>

namespace bettensor::transport {

bool event_stream::push(std::string_view chunk) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    if (queued_.size() + chunk.size() > max_) {
      closed_ = true;  // the client fell behind: it reconnects and starts afresh
    } else {
      queued_.append(chunk);
    }
  }
  wake();
  return !closed();
}

void event_stream::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  wake();
}

bool event_stream::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::string event_stream::take() {
  std::lock_guard lock(mutex_);
  return std::exchange(queued_, {});
}

void event_stream::on_ready(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  wake_ = std::move(wake);
}

void event_stream::wake() const {
  std::function<void()> w;
  {
    std::lock_guard lock(mutex_);
    w = wake_;
  }
  if (w) w();
}

std::string sse_event(std::string_view name, std::string_view data) {
  std::string out;
  out.reserve(name.size() + data.size() + 16);
  out.append("event: ").append(name).append("\ndata: ").append(data).append("\n\n");
  return out;
}

}  // namespace bettensor::transport
