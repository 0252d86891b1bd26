// Events between validator instances that share one PostgreSQL database, over LISTEN/NOTIFY
// (no other broker): one connection of its own, used by one thread of its own, that listens on
// the given channels, sends the NOTIFYs queued by notify() and reconnects with backoff when it
// is lost. Notifications are delivered to every listener in commit order, the sender's own
// included.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bettensor/storage/db_url.hpp"

namespace bettensor::storage {

class postgres_events {
 public:
  /// Runs on the listener's thread for each notification.
  using event_handler = std::function<void(const std::string& channel, const std::string& payload)>;
  /// Runs on the listener's thread when listening starts (true; notifications sent while it was
  /// down are lost, so resynchronise here) or stops (false, with the reason; once per outage).
  using state_handler = std::function<void(bool listening, const std::string& reason)>;

  postgres_events(const db_url& url, std::vector<std::string> channels, event_handler on_event,
                  state_handler on_state = {},
                  std::chrono::milliseconds retry_max = std::chrono::milliseconds(2000));
  /// Stops listening and joins the thread.
  ~postgres_events();
  postgres_events(const postgres_events&) = delete;
  postgres_events& operator=(const postgres_events&) = delete;

  /// Queues NOTIFY `channel` with `payload` (up to 7999 bytes) for the listener's thread, so
  /// the caller never waits for the database; false when not listening (nothing is sent).
  bool notify(const std::string& channel, const std::string& payload);
  [[nodiscard]] bool listening() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace bettensor::storage
