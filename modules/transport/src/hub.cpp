#include "hub.hpp"

#include "ws_session.hpp"

namespace bettensor::transport::detail {

hub::membership hub::admit(const std::shared_ptr<ws_session>& s) {
  std::lock_guard lock(mutex_);
  if (sessions_.size() >= max_) return {};
  sessions_.emplace(s.get(), s);
  return {this, s.get()};
}

std::shared_ptr<ws_session> hub::join(const std::shared_ptr<ws_session>& s) {
  std::lock_guard lock(mutex_);
  ++authenticated_;
  auto& slot = by_hotkey_[s->hotkey()];
  auto old = slot.lock();
  slot = s;
  return old;
}

void hub::leave(ws_session* s) {
  std::lock_guard lock(mutex_);
  if (sessions_.erase(s) == 0) return;
  if (!s->is_authenticated()) return;
  --authenticated_;
  const auto it = by_hotkey_.find(s->hotkey());
  if (it != by_hotkey_.end() && (it->second.expired() || it->second.lock().get() == s)) {
    by_hotkey_.erase(it);
  }
}

namespace {

// The sessions of a map of weak pointers that are still alive.
template <class Map>
std::vector<std::shared_ptr<ws_session>> live(const Map& sessions) {
  std::vector<std::shared_ptr<ws_session>> out;
  out.reserve(sessions.size());
  for (const auto& [key, weak] : sessions) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::vector<std::shared_ptr<ws_session>> hub::authenticated_sessions() const {
  std::lock_guard lock(mutex_);
  return live(by_hotkey_);
}

std::vector<std::shared_ptr<ws_session>> hub::all_sessions() const {
  std::lock_guard lock(mutex_);
  return live(sessions_);
}

std::vector<session_info> hub::snapshot() const {
  std::vector<session_info> out;
  for (const auto& s : all_sessions()) out.push_back(s->info());
  return out;
}

hub::counts hub::count() const {
  std::lock_guard lock(mutex_);
  return {sessions_.size(), authenticated_};
}

}  // namespace bettensor::transport::detail
