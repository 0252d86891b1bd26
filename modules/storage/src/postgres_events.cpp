#include "bettensor/storage/postgres_events.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "pg_connection.hpp"

namespace bettensor::storage {

struct postgres_events::impl {
  impl(const db_url& url, std::vector<std::string> ch, event_handler ev, state_handler st,
       std::chrono::milliseconds max)
      : conn(url, "bettensor-validator-events"),
        channels(std::move(ch)),
        on_event(std::move(ev)),
        on_state(std::move(st)),
        retry_max(max) {
    if (::pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) throw storage_error("pipe2 failed");
    worker = std::thread([this] { run(); });
  }

  ~impl() {
    stopping = true;
    wake();
    worker.join();
    ::close(wake_pipe[0]);
    ::close(wake_pipe[1]);
  }

  void wake() const {
    const char byte = 1;
    [[maybe_unused]] const auto n = ::write(wake_pipe[1], &byte, 1);
  }

  void drain_wakes() const {
    char buf[64];
    while (::read(wake_pipe[0], buf, sizeof buf) > 0) {
    }
  }

  // Waits `d`, or until stopped or woken; false when stopped.
  bool pause(std::chrono::milliseconds d) const {
    pollfd p{wake_pipe[0], POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(d.count()));
    drain_wakes();
    return !stopping;
  }

  void went_down(const std::string& reason) {
    {
      // What was queued while down is dropped: an announcement is only worth something live.
      std::lock_guard lock(outbox_mutex);
      outbox.clear();
    }
    if (up.exchange(false) || !reported_down) {
      reported_down = true;
      if (on_state) on_state(false, reason);
    }
  }

  // Sends what notify() queued, on this thread's connection: libpq keeps any notification that
  // arrives with an answer, and the caller reads them right after.
  void send_queued() {
    std::vector<std::pair<std::string, std::string>> batch;
    {
      std::lock_guard lock(outbox_mutex);
      batch.swap(outbox);
    }
    for (const auto& [channel, payload] : batch)
      conn.exec("SELECT pg_notify($1, $2)", {channel.c_str(), payload.c_str()});
  }

  void deliver_buffered() {
    while (PGnotify* n = conn.raw() != nullptr ? PQnotifies(conn.raw()) : nullptr) {
      const std::string channel = n->relname;
      const std::string payload = n->extra != nullptr ? n->extra : "";
      PQfreemem(n);
      on_event(channel, payload);
    }
  }

  // The one thread that touches the connection: connects and LISTENs, sends queued NOTIFYs,
  // and delivers notifications until stopped, reconnecting with backoff.
  void run() {
    auto backoff = std::chrono::milliseconds(50);
    while (!stopping) {
      int sock = -1;
      try {
        bool fresh = false;
        conn.ready(&fresh);
        if (fresh) {
          for (const auto& c : channels) conn.exec("LISTEN " + c);
        }
        if (!up.exchange(true)) {
          backoff = std::chrono::milliseconds(50);
          reported_down = false;
          if (on_state) on_state(true, {});
        }
        send_queued();
        deliver_buffered();
        sock = PQsocket(conn.raw());
      } catch (const storage_error& e) {
        conn.close();
        went_down(e.what());
        if (!pause(backoff)) return;
        backoff = std::min(backoff * 2, retry_max);
        continue;
      }
      pollfd fds[2] = {{sock, POLLIN, 0}, {wake_pipe[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      drain_wakes();
      if (stopping) return;
      if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        if (PQconsumeInput(conn.raw()) == 0) {
          const std::string reason = conn.where() + "connection lost";
          conn.close();
          went_down(reason);
          continue;
        }
        deliver_buffered();
      }
    }
  }

  detail::pg_connection conn;  // the worker thread's alone
  std::vector<std::string> channels;
  event_handler on_event;
  state_handler on_state;
  std::chrono::milliseconds retry_max;
  std::mutex outbox_mutex;  // guards outbox
  std::vector<std::pair<std::string, std::string>> outbox;
  std::atomic<bool> stopping{false};
  std::atomic<bool> up{false};
  bool reported_down = false;  // the worker's: a failure already reported since the last up
  int wake_pipe[2] = {-1, -1};
  std::thread worker;
};

postgres_events::postgres_events(const db_url& url, std::vector<std::string> channels,
                                 event_handler on_event, state_handler on_state,
                                 std::chrono::milliseconds retry_max)
    : impl_(std::make_unique<impl>(url, std::move(channels), std::move(on_event),
                                   std::move(on_state), retry_max)) {}

postgres_events::~postgres_events() = default;

bool postgres_events::notify(const std::string& channel, const std::string& payload) {
  if (!impl_->up) return false;
  {
    std::lock_guard lock(impl_->outbox_mutex);
    if (impl_->outbox.size() >= 10000) return false;  // bounded while the thread catches up
    impl_->outbox.emplace_back(channel, payload);
  }
  impl_->wake();
  return true;
}

bool postgres_events::listening() const {
  return impl_->up.load();
}

}  // namespace bettensor::storage
