#include "bettensor/protocol/replay_guard.hpp"

namespace bettensor::protocol {

void replay_guard::expire(sender_state& st, timestamp now) {
  while (!st.expiry.empty() && st.expiry.top().expires < now) {
    st.seen.erase(st.expiry.top().nonce);
    st.expiry.pop();
    --total_;
  }
}

result<void> replay_guard::check_locked(sender_state* st, std::string_view nonce, timestamp now) {
  if (nonce.empty()) return invalid_format("field 'nonce' must not be empty");
  if (nonce.size() > limits_.max_nonce_length) return invalid_format("field 'nonce' is too long");
  if (st == nullptr) return {};
  expire(*st, now);
  if (st->seen.contains(std::string(nonce))) return frame_error(errc::replayed_nonce);
  if (st->seen.size() >= limits_.max_nonces_per_sender) {
    return invalid_format("too many messages within the timestamp window");
  }
  return {};
}

result<void> replay_guard::check(std::string_view sender, std::string_view nonce, timestamp now) {
  std::lock_guard lock(mutex_);
  const auto it = senders_.find(std::string(sender));
  return check_locked(it == senders_.end() ? nullptr : &it->second, nonce, now);
}

result<void> replay_guard::check_and_record(std::string_view sender, std::string_view nonce,
                                            timestamp message_time, timestamp now) {
  std::lock_guard lock(mutex_);
  // Now and then, drop senders whose nonces have all expired, so departed peers cost nothing.
  if (++records_ % sweep_every == 0) {
    for (auto it = senders_.begin(); it != senders_.end();) {
      expire(it->second, now);
      it = it->second.seen.empty() ? senders_.erase(it) : std::next(it);
    }
  }
  auto& st = senders_[std::string(sender)];
  if (auto ok = check_locked(&st, nonce, now); !ok) return ok;
  st.seen.emplace(nonce);
  st.expiry.push(entry{message_time + limits_.window, std::string(nonce)});
  ++total_;
  return {};
}

std::size_t replay_guard::size() const {
  std::lock_guard lock(mutex_);
  return total_;
}

}  // namespace bettensor::protocol
