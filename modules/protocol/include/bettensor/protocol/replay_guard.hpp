// Remembers the nonces each sender used within the timestamp window, so a captured frame cannot
// be replayed. Memory is bounded: nonces expire with the window, and each sender has a cap.
// A nonce is kept as a 128-bit keyed digest (SipHash-2-4 with a key drawn at start), about 40
// bytes each with its expiry, so 10,000 miners answering heartbeats cost little.
#pragma once

#include <boost/unordered/unordered_flat_set.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bettensor/protocol/error.hpp"
#include "bettensor/protocol/timestamp.hpp"

namespace bettensor::protocol {

class replay_guard {
 public:
  struct limits {
    std::chrono::seconds window = default_timestamp_window;
    std::size_t max_nonces_per_sender = 65536;
    std::size_t max_nonce_length = 128;
  };

  replay_guard() : replay_guard(limits{}) {}
  explicit replay_guard(limits l);

  /// True if `nonce` has not been used by `sender` within the window. Does not record it.
  [[nodiscard]] result<void> check(std::string_view sender, std::string_view nonce, timestamp now);

  /// Checks and records in one step: call once the frame's signature has been verified, so a
  /// forged frame cannot burn a nonce. `message_time` is the frame's own timestamp; the nonce is
  /// remembered until that time leaves the window.
  [[nodiscard]] result<void> check_and_record(std::string_view sender, std::string_view nonce,
                                              timestamp message_time, timestamp now);

  /// Nonces currently remembered, over all senders.
  [[nodiscard]] std::size_t size() const;

 private:
  struct digest {
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
    bool operator==(const digest&) const = default;
  };
  struct digest_hash {
    std::size_t operator()(const digest& d) const noexcept { return d.lo; }  // already uniform
  };
  struct entry {
    timestamp expires;
    digest nonce;
  };
  struct sender_state {
    boost::unordered_flat_set<digest, digest_hash> seen;
    std::vector<entry> expiry;  // a min-heap on `expires`
  };

  [[nodiscard]] digest digest_of(std::string_view nonce) const;
  result<void> check_locked(sender_state* st, std::string_view nonce, const digest& d,
                            timestamp now);
  void expire(sender_state& st, timestamp now);

  limits limits_;
  std::array<std::uint8_t, 16> key_{};
  mutable std::mutex mutex_;
  // Looked up by the sender's string_view, without building a string.
  struct sender_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>()(s);
    }
  };
  std::unordered_map<std::string, sender_state, sender_hash, std::equal_to<>> senders_;
  std::size_t total_ = 0;
  std::size_t records_ = 0;
  static constexpr std::size_t sweep_every = 1024;
};

}  // namespace bettensor::protocol
