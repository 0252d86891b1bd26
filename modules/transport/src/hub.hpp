// Every WebSocket session of a server, and the authenticated ones by hotkey (private to the
// module). A session is admitted with a membership that removes it when destroyed; the hub holds
// weak references only, so it never keeps a connection alive. Thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bettensor/transport/server.hpp"

namespace bettensor::transport::detail {

class ws_session;

class hub {
 public:
  explicit hub(std::size_t max_connections) : max_(max_connections) {}

  /// A session's place in the hub; leaving happens when it is destroyed.
  class membership {
   public:
    membership() = default;
    membership(hub* h, ws_session* s) : hub_(h), session_(s) {}
    membership(membership&& o) noexcept
        : hub_(std::exchange(o.hub_, nullptr)), session_(o.session_) {}
    membership& operator=(membership&& o) noexcept {
      if (this != &o) {
        reset();
        hub_ = std::exchange(o.hub_, nullptr);
        session_ = o.session_;
      }
      return *this;
    }
    membership(const membership&) = delete;
    membership& operator=(const membership&) = delete;
    ~membership() { reset(); }
    void reset() {
      if (auto* h = std::exchange(hub_, nullptr)) h->leave(session_);
    }
    [[nodiscard]] explicit operator bool() const { return hub_ != nullptr; }

   private:
    hub* hub_ = nullptr;
    ws_session* session_ = nullptr;
  };

  /// Admits a new connection; an empty membership when max_connections are open.
  membership admit(const std::shared_ptr<ws_session>& s);
  /// Registers an authenticated session under its hotkey; returns the one it replaces.
  std::shared_ptr<ws_session> join(const std::shared_ptr<ws_session>& s);

  [[nodiscard]] std::vector<std::shared_ptr<ws_session>> authenticated_sessions() const;
  [[nodiscard]] std::vector<std::shared_ptr<ws_session>> all_sessions() const;
  [[nodiscard]] std::vector<session_info> snapshot() const;
  struct counts {
    std::size_t total = 0;
    std::size_t authenticated = 0;
  };
  [[nodiscard]] counts count() const;

 private:
  void leave(ws_session* s);

  std::size_t max_;
  mutable std::mutex mutex_;
  std::unordered_map<ws_session*, std::weak_ptr<ws_session>> sessions_;
  std::unordered_map<std::string, std::weak_ptr<ws_session>> by_hotkey_;
  std::size_t authenticated_ = 0;
};

}  // namespace bettensor::transport::detail
