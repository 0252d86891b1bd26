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
        sender(url, "bettensor-validator-events"),
        channels(std::move(ch)),
        on_event(std::move(ev)),
        on_state(std::move(st)),
        retry_max(max) {
    if (::pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) throw storage_error("pipe2 failed");
    worker = std::thread([this] { run(); });
  }

  ~impl() {
    stopping = true;
    const char byte = 1;
    [[maybe_unused]] const auto n = ::write(stop_pipe[1], &byte, 1);
    worker.join();
    ::close(stop_pipe[0]);
    ::close(stop_pipe[1]);
  }

  // Waits `d` or until stopped; false when stopped.
  bool pause(std::chrono::milliseconds d) const {
    pollfd p{stop_pipe[0], POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(d.count()));
    return !stopping;
  }

  void run() {
    auto backoff = std::chrono::milliseconds(50);
    while (!stopping) {
      int sock = -1;
      try {
        std::lock_guard lock(mutex);
        bool fresh = false;
        conn.ready(&fresh);
        if (fresh) {
          for (const auto& c : channels) conn.exec("LISTEN " + c);
        }
        sock = PQsocket(conn.raw());
      } catch (const storage_error& e) {
        up = false;
        if (on_state) on_state(false, e.what());
        if (!pause(backoff)) return;
        backoff = std::min(backoff * 2, retry_max);
        continue;
      }
      if (!up.exchange(true)) {
        backoff = std::chrono::milliseconds(50);
        if (on_state) on_state(true, {});
      }
      pollfd fds[2] = {{sock, POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (stopping) return;
      std::vector<std::pair<std::string, std::string>> events;
      {
        std::lock_guard lock(mutex);
        if (PQconsumeInput(conn.raw()) == 0) {
          conn.close();
          up = false;
        }
        while (PGnotify* n = conn.raw() != nullptr ? PQnotifies(conn.raw()) : nullptr) {
          events.emplace_back(n->relname, n->extra != nullptr ? n->extra : "");
          PQfreemem(n);
        }
      }
      if (!up) {
        if (on_state) on_state(false, conn.where() + "connection lost");
        continue;
      }
      for (const auto& [channel, payload] : events) on_event(channel, payload);
    }
  }

  std::mutex mutex;  // guards conn (the listener's)
  detail::pg_connection conn;
  // NOTIFYs go out on a connection of their own: a query on the listening one would read
  // notifications off its socket behind the listener's back.
  std::mutex send_mutex;
  detail::pg_connection sender;
  std::vector<std::string> channels;
  event_handler on_event;
  state_handler on_state;
  std::chrono::milliseconds retry_max;
  std::atomic<bool> stopping{false};
  std::atomic<bool> up{false};
  int stop_pipe[2] = {-1, -1};
  std::thread worker;
};

postgres_events::postgres_events(const db_url& url, std::vector<std::string> channels,
                                 event_handler on_event, state_handler on_state,
                                 std::chrono::milliseconds retry_max)
    : impl_(std::make_unique<impl>(url, std::move(channels), std::move(on_event),
                                   std::move(on_state), retry_max)) {}

postgres_events::~postgres_events() = default;

bool postgres_events::notify(const std::string& channel, const std::string& payload) {
  std::lock_guard lock(impl_->send_mutex);
  try {
    impl_->sender.exec("SELECT pg_notify($1, $2)", {channel.c_str(), payload.c_str()});
    return true;
  } catch (const storage_error&) {
    return false;
  }
}

bool postgres_events::listening() const {
  return impl_->up.load();
}

}  // namespace bettensor::storage
