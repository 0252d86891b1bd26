#include "frame_lanes.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace bettensor::transport {
namespace {

using protocol::frame_kind;

// A frame of `kind` whose text is `n`.
frame_ptr numbered(frame_kind kind, int n) {
  return std::make_shared<const frame>(frame{std::to_string(n), kind});
}

TEST(FrameLanes, EachKindGoesInItsLane) {
  EXPECT_EQ(priority_of(frame_kind::confirmation), priority::urgent);
  EXPECT_EQ(priority_of(frame_kind::error), priority::urgent);
  EXPECT_EQ(priority_of(frame_kind::welcome), priority::urgent);
  EXPECT_EQ(priority_of(frame_kind::refusal), priority::urgent);
  EXPECT_EQ(priority_of(frame_kind::game_update), priority::normal);
  EXPECT_EQ(priority_of(frame_kind::heartbeat), priority::low);
  EXPECT_EQ(priority_of(frame_kind::heartbeat_ack), priority::low);
}

TEST(FrameLanes, HigherPriorityFirstAndFifoWithinALane) {
  frame_lanes q;
  q.push(numbered(frame_kind::heartbeat, 1));
  q.push(numbered(frame_kind::game_update, 2));
  q.push(numbered(frame_kind::confirmation, 3));
  q.push(numbered(frame_kind::game_update, 4));
  EXPECT_FALSE(q.empty(priority::urgent));
  EXPECT_EQ(q.pop()->text, "3");
  EXPECT_TRUE(q.empty(priority::urgent));
  EXPECT_EQ(q.pop()->text, "2");
  EXPECT_EQ(q.pop()->text, "4");
  EXPECT_EQ(q.pop()->text, "1");
  EXPECT_EQ(q.pop(), nullptr);
}

// A lane that is pushed as fast as it is popped never drains; its storage must still stay
// bounded by what waits, and order must survive the compactions.
TEST(FrameLanes, SteadyLoadStaysBoundedAndOrdered) {
  frame_lanes q;
  int next_in = 0;
  int next_out = 0;
  for (int i = 0; i < 8; ++i) q.push(numbered(frame_kind::confirmation, next_in++));
  for (int round = 0; round < 100000; ++round) {
    q.push(numbered(frame_kind::confirmation, next_in++));
    const auto f = q.pop();
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(f->text, std::to_string(next_out++));
    ASSERT_LE(q.stored(priority::urgent), 2 * 9 + 64u);
  }
  while (auto f = q.pop()) ASSERT_EQ(f->text, std::to_string(next_out++));
  EXPECT_EQ(next_out, next_in);
  EXPECT_EQ(q.stored(priority::urgent), 0u);
}

}  // namespace
}  // namespace bettensor::transport
