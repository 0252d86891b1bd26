// The send queue of one WebSocket connection (internal to the transport module).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

#include "bettensor/transport/frame.hpp"

namespace bettensor::transport {

// Frames waiting to be written, in three priority lanes. A lane is a vector read from a moving
// head, cleared once drained and compacted when its consumed front outgrows the rest, so an idle
// connection holds no queue memory at all (a std::deque allocates a block per lane even when
// empty) and a busy one no more than twice what waits.
class frame_lanes {
 public:
  // Queues `f` in its kind's lane.
  void push(frame_ptr f) {
    lanes_[static_cast<std::size_t>(f->lane())].items.push_back(std::move(f));
  }
  [[nodiscard]] bool empty(priority p) const { return lanes_[static_cast<std::size_t>(p)].empty(); }
  [[nodiscard]] bool empty() const {
    return std::all_of(lanes_.begin(), lanes_.end(), [](const lane& l) { return l.empty(); });
  }
  // Slots a lane holds, consumed ones included (for tests of its bound).
  [[nodiscard]] std::size_t stored(priority p) const {
    return lanes_[static_cast<std::size_t>(p)].items.size();
  }
  // The next frame by priority, or null when every lane is empty.
  frame_ptr pop() {
    for (auto& lane : lanes_) {
      if (lane.empty()) continue;
      frame_ptr f = std::move(lane.items[lane.head++]);
      if (lane.head == lane.items.size()) {
        lane.items.clear();
        lane.head = 0;
        if (lane.items.capacity() > 64) lane.items.shrink_to_fit();  // after a burst
      } else if (lane.head >= 64 && lane.head * 2 >= lane.items.size()) {
        // A lane that never quite drains under steady load: drop the consumed front (at most
        // as many moves as pops so far, so still constant time per frame on average).
        lane.items.erase(lane.items.begin(),
                         lane.items.begin() + static_cast<std::ptrdiff_t>(lane.head));
        lane.head = 0;
      }
      return f;
    }
    return nullptr;
  }

 private:
  struct lane {
    std::vector<frame_ptr> items;
    std::size_t head = 0;
    [[nodiscard]] bool empty() const { return head == items.size(); }
  };
  std::array<lane, 3> lanes_;
};

}  // namespace bettensor::transport
