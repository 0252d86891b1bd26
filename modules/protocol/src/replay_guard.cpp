#include "bettensor/protocol/replay_guard.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "bettensor/crypto/bytes.hpp"

namespace bettensor::protocol {

namespace {
constexpr auto later = [](const auto& a, const auto& b) { return a.expires > b.expires; };
}  // namespace

replay_guard::replay_guard(limits l) : limits_(l) {
  crypto::random_bytes(key_);
}

replay_guard::digest replay_guard::digest_of(std::string_view nonce) const {
  std::array<std::uint8_t, crypto_shorthash_siphashx24_BYTES> out{};
  crypto_shorthash_siphashx24(out.data(), reinterpret_cast<const unsigned char*>(nonce.data()),
                              nonce.size(), key_.data());
  digest d;
  std::memcpy(&d.lo, out.data(), 8);
  std::memcpy(&d.hi, out.data() + 8, 8);
  return d;
}

void replay_guard::expire(sender_state& st, timestamp now) {
  while (!st.expiry.empty() && st.expiry.front().expires < now) {
    st.seen.erase(st.expiry.front().nonce);
    std::pop_heap(st.expiry.begin(), st.expiry.end(), later);
    st.expiry.pop_back();
    --total_;
  }
  if (st.expiry.empty() && st.expiry.capacity() > 64) {  // a burst has passed: give it back
    st.expiry = {};
    st.seen = {};
  }
}

result<void> replay_guard::check_locked(sender_state* st, std::string_view nonce, const digest& d,
                                        timestamp now) {
  if (nonce.empty()) return invalid_format("field 'nonce' must not be empty");
  if (nonce.size() > limits_.max_nonce_length) return invalid_format("field 'nonce' is too long");
  if (st == nullptr) return {};
  expire(*st, now);
  if (st->seen.contains(d)) return frame_error(errc::replayed_nonce);
  if (st->seen.size() >= limits_.max_nonces_per_sender) {
    return invalid_format("too many messages within the timestamp window");
  }
  return {};
}

result<void> replay_guard::check(std::string_view sender, std::string_view nonce, timestamp now) {
  const digest d = digest_of(nonce);
  std::lock_guard lock(mutex_);
  const auto it = senders_.find(sender);
  return check_locked(it == senders_.end() ? nullptr : &it->second, nonce, d, now);
}

result<void> replay_guard::check_and_record(std::string_view sender, std::string_view nonce,
                                            timestamp message_time, timestamp now) {
  const digest d = digest_of(nonce);
  std::lock_guard lock(mutex_);
  // Now and then, drop senders whose nonces have all expired, so departed peers cost nothing.
  if (++records_ % sweep_every == 0) {
    for (auto it = senders_.begin(); it != senders_.end();) {
      expire(it->second, now);
      it = it->second.seen.empty() ? senders_.erase(it) : std::next(it);
    }
  }
  auto it = senders_.find(sender);
  if (it == senders_.end()) it = senders_.emplace(std::string(sender), sender_state{}).first;
  auto& st = it->second;
  if (auto ok = check_locked(&st, nonce, d, now); !ok) return ok;
  st.seen.insert(d);
  st.expiry.push_back(entry{message_time + limits_.window, d});
  std::push_heap(st.expiry.begin(), st.expiry.end(), later);
  ++total_;
  return {};
}

std::size_t replay_guard::size() const {
  std::lock_guard lock(mutex_);
  return total_;
}

}  // namespace bettensor::protocol
