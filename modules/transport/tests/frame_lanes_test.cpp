#include "frame_lanes.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace bettensor::transport {
namespace {

frame_ptr frame(int n) {
  return std::make_shared<const std::string>(std::to_string(n));
}

TEST(FrameLanes, HigherPriorityFirstAndFifoWithinALane) {
  frame_lanes q;
  q.push(priority::low, frame(1));
  q.push(priority::normal, frame(2));
  q.push(priority::urgent, frame(3));
  q.push(priority::normal, frame(4));
  EXPECT_FALSE(q.empty(priority::urgent));
  EXPECT_EQ(*q.pop(), "3");
  EXPECT_TRUE(q.empty(priority::urgent));
  EXPECT_EQ(*q.pop(), "2");
  EXPECT_EQ(*q.pop(), "4");
  EXPECT_EQ(*q.pop(), "1");
  EXPECT_EQ(q.pop(), nullptr);
}

// A lane that is pushed as fast as it is popped never drains; its storage must still stay
// bounded by what waits, and order must survive the compactions.
TEST(FrameLanes, SteadyLoadStaysBoundedAndOrdered) {
  frame_lanes q;
  int next_in = 0;
  int next_out = 0;
  for (int i = 0; i < 8; ++i) q.push(priority::urgent, frame(next_in++));
  for (int round = 0; round < 100000; ++round) {
    q.push(priority::urgent, frame(next_in++));
    const auto f = q.pop();
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(*f, std::to_string(next_out++));
    ASSERT_LE(q.stored(priority::urgent), 2 * 9 + 64u);
  }
  while (auto f = q.pop()) ASSERT_EQ(*f, std::to_string(next_out++));
  EXPECT_EQ(next_out, next_in);
  EXPECT_EQ(q.stored(priority::urgent), 0u);
}

}  // namespace
}  // namespace bettensor::transport
