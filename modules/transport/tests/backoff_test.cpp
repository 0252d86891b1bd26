#include <gtest/gtest.h>

#include <random>

#include "bettensor/transport/backoff.hpp"

namespace bettensor::transport {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, CeilingDoublesUpToTheMaximum) {
  const backoff b(5s, 300s);
  EXPECT_EQ(b.ceiling(0), 5s);
  EXPECT_EQ(b.ceiling(1), 10s);
  EXPECT_EQ(b.ceiling(2), 20s);
  EXPECT_EQ(b.ceiling(5), 160s);
  EXPECT_EQ(b.ceiling(6), 300s);
  EXPECT_EQ(b.ceiling(1000), 300s);  // no overflow
}

TEST(Backoff, JitteredDelaysStayWithinTheCeilingAndSpread) {
  const backoff b(100ms, 10s);
  std::mt19937_64 rng(7);
  for (unsigned failures = 0; failures < 10; ++failures) {
    std::chrono::milliseconds lo = b.ceiling(failures);
    std::chrono::milliseconds hi{0};
    for (int i = 0; i < 200; ++i) {
      const auto d = b.delay(failures, rng);
      ASSERT_GE(d.count(), 0);
      ASSERT_LE(d, b.ceiling(failures));
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    // 200 draws from [0, ceiling] cover most of the range: jitter, not a fixed delay.
    EXPECT_LT(lo, b.ceiling(failures) / 4) << failures;
    EXPECT_GT(hi, b.ceiling(failures) * 3 / 4) << failures;
  }
}

TEST(Backoff, RefusesBadIntervals) {
  EXPECT_THROW(backoff(0s, 10s), std::invalid_argument);
  EXPECT_THROW(backoff(10s, 5s), std::invalid_argument);
  EXPECT_NO_THROW(backoff(5s, 5s));
}

}  // namespace
}  // namespace bettensor::transport
