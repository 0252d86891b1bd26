#include "bettensor/validator/verdict_log.hpp"

#include <algorithm>

namespace bettensor::validator {

verdict_log::verdict_log(std::size_t capacity) : ring_(std::max<std::size_t>(capacity, 1)) {}

void verdict_log::record(std::string_view hotkey, std::int64_t uid, std::string_view prediction_id,
                         bool accepted, bool duplicate, std::string_view message,
                         std::string_view channel) {
  const auto now = std::chrono::system_clock::now();
  std::lock_guard lock(mutex_);
  ++last_;
  auto& r = ring_[last_ % ring_.size()];
  r.seq = last_;
  r.at = now;
  r.hotkey.assign(hotkey);  // reuses the slot's capacity
  r.uid = uid;
  r.prediction_id.assign(prediction_id);
  r.accepted = accepted;
  r.duplicate = duplicate;
  r.message.assign(message);
  r.channel = channel;
  ++(accepted ? totals_.accepted : totals_.refused);
}

verdict_log::page verdict_log::newest(std::optional<std::uint64_t> before,
                                      std::size_t limit) const {
  page out;
  std::lock_guard lock(mutex_);
  const std::uint64_t oldest = last_ >= ring_.size() ? last_ - ring_.size() + 1 : 1;
  std::uint64_t seq =
      before ? std::min(*before - std::min<std::uint64_t>(*before, 1), last_) : last_;
  for (; seq >= oldest && seq > 0 && out.items.size() < limit; --seq)
    out.items.push_back(ring_[seq % ring_.size()]);
  if (seq >= oldest && seq > 0) out.next = seq + 1;  // the next page starts below this cursor
  return out;
}

std::uint64_t verdict_log::last_seq() const {
  std::lock_guard lock(mutex_);
  return last_;
}

verdict_log::totals verdict_log::counts() const {
  std::lock_guard lock(mutex_);
  return totals_;
}

}  // namespace bettensor::validator
