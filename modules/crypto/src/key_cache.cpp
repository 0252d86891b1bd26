#include "bettensor/crypto/key_cache.hpp"

#include <cstring>

namespace bettensor::crypto {

verifying_key_cache::verifying_key_cache(std::size_t max_bytes)
    : capacity_(max_bytes / verifying_key::memory_bytes()) {}

std::size_t verifying_key_cache::key_hash::operator()(const public_key& k) const noexcept {
  // Only keys that have authenticated get here, so a plain digest of the bytes is enough.
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::memcpy(&a, k.data(), sizeof a);
  std::memcpy(&b, k.data() + 16, sizeof b);
  return static_cast<std::size_t>(a ^ (b * 0x9e3779b97f4a7c15ULL));
}

std::shared_ptr<const verifying_key> verifying_key_cache::get(const public_key& key, lookup* what) {
  if (capacity_ == 0) return nullptr;
  {
    const std::lock_guard lock(mutex_);
    if (const auto it = index_.find(key); it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      ++stats_.hits;
      return *it->second;
    }
  }
  // Built outside the lock: the other threads keep verifying meanwhile.
  auto made = verifying_key::make(key);
  if (!made) return nullptr;
  const std::lock_guard lock(mutex_);
  if (const auto it = index_.find(key); it != index_.end()) {  // another thread was faster
    order_.splice(order_.begin(), order_, it->second);
    return *it->second;
  }
  ++stats_.builds;
  if (what != nullptr) what->built = true;
  while (order_.size() >= capacity_) {
    index_.erase(order_.back()->bytes());
    order_.pop_back();
    ++stats_.evictions;
    if (what != nullptr) ++what->evicted;
  }
  order_.push_front(made);
  index_.emplace(key, order_.begin());
  return made;
}

verifying_key_cache::stats verifying_key_cache::snapshot() const {
  const std::lock_guard lock(mutex_);
  stats s = stats_;
  s.entries = order_.size();
  s.bytes = s.entries * verifying_key::memory_bytes();
  return s;
}

}  // namespace bettensor::crypto
