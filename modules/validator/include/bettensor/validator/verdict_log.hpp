// The validator's most recent verdicts, for the admin API and the live page: a ring of fixed
// size whose slots keep their strings' capacity, so that recording a verdict on the hot path
// allocates nothing once the ring has filled. Each verdict gets a sequence number (1, 2, ...),
// which is also the paging cursor. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bettensor::validator {

struct verdict_record {
  std::uint64_t seq = 0;
  std::chrono::system_clock::time_point at;
  std::string hotkey;
  std::int64_t uid = -1;
  std::string prediction_id;
  bool accepted = false;
  bool duplicate = false;    // the original verdict, sent again
  std::string message;       // "" when accepted
  std::string_view channel;  // "websocket" or "http" (static text)
};

class verdict_log {
 public:
  explicit verdict_log(std::size_t capacity = 1000);

  void record(std::string_view hotkey, std::int64_t uid, std::string_view prediction_id,
              bool accepted, bool duplicate, std::string_view message, std::string_view channel);

  struct page {
    std::vector<verdict_record> items;  // newest first
    std::optional<std::uint64_t> next;  // the cursor of the next (older) page, if any
  };
  /// At most `limit` verdicts older than `before` (a seq; nullopt: from the newest).
  [[nodiscard]] page newest(std::optional<std::uint64_t> before, std::size_t limit) const;
  /// The sequence number of the last verdict recorded (0 before any).
  [[nodiscard]] std::uint64_t last_seq() const;

  struct totals {
    std::uint64_t accepted = 0;
    std::uint64_t refused = 0;
  };
  [[nodiscard]] totals counts() const;

 private:
  mutable std::mutex mutex_;
  std::vector<verdict_record> ring_;
  std::uint64_t last_ = 0;
  totals totals_;
};

}  // namespace bettensor::validator
