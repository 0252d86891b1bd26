#include "outbox.hpp"

#include <cstdio>
#include <future>

namespace bettensor::miner::detail {

outbox::outbox(const std::filesystem::path& db)
    : store_(db), guard_(boost::asio::make_work_guard(ctx_)), thread_([this] { ctx_.run(); }) {}

outbox::~outbox() {
  try {
    close();
    guard_.reset();
    if (thread_.joinable()) {
      if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();  // the last reference went on the storage thread itself
      } else {
        thread_.join();
      }
    }
  } catch (const std::exception& e) {  // out of memory or threads: nothing left to save
    std::fprintf(stderr, "miner outbox: %s\n", e.what());
  }
}

void outbox::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
  }
  if (thread_.get_id() == std::this_thread::get_id()) return;
  // Every job queued before this marker sees `closed` and fails fast; the marker runs after
  // the job in progress.
  std::promise<void> drained;
  auto done = drained.get_future();
  boost::asio::post(ctx_, [&drained] { drained.set_value(); });
  done.wait();
}

bool outbox::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

}  // namespace bettensor::miner::detail
