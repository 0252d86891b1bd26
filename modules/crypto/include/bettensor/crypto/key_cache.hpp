// Prepared verification keys of the miners that sign most, bounded in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "bettensor/crypto/sr25519.hpp"

namespace bettensor::crypto {

/// A least-recently-used cache of verifying_key tables, at most `max_bytes` of them (each
/// verifying_key::memory_bytes()). Safe to share between threads. A key evicted while a
/// verification still holds it is freed when that verification ends.
class verifying_key_cache {
 public:
  struct stats {
    std::size_t entries = 0;
    std::size_t bytes = 0;
    std::uint64_t hits = 0;
    std::uint64_t builds = 0;
    std::uint64_t evictions = 0;
  };

  /// What one get() did, for the caller's metrics.
  struct lookup {
    bool built = false;
    std::size_t evicted = 0;
  };

  explicit verifying_key_cache(std::size_t max_bytes);

  /// The prepared key, built on a miss (evicting the least recently used keys to make room);
  /// nullptr when the cache holds no key at all (max_bytes below one) or `key` cannot be
  /// prepared: the caller then verifies with the key bytes.
  std::shared_ptr<const verifying_key> get(const public_key& key, lookup* what = nullptr);

  [[nodiscard]] stats snapshot() const;
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

 private:
  struct key_hash {
    std::size_t operator()(const public_key& k) const noexcept;
  };
  using lru_list = std::list<std::shared_ptr<const verifying_key>>;

  std::size_t capacity_;  // keys
  mutable std::mutex mutex_;
  lru_list order_;  // most recently used first
  std::unordered_map<public_key, lru_list::iterator, key_hash> index_;
  stats stats_;
};

}  // namespace bettensor::crypto
