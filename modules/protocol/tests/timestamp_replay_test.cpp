#include <gtest/gtest.h>

#include <array>

#include "bettensor/protocol/replay_guard.hpp"
#include "bettensor/protocol/timestamp.hpp"

namespace bettensor::protocol {
namespace {

// "<prefix><n>" built by appending: GCC 12 at -O3 reports a false -Wrestrict on
// `"literal" + std::to_string(n)` when it can see n's range (GCC bug 105329).
std::string numbered(std::string_view prefix, long long n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

using namespace std::chrono_literals;

TEST(Timestamp, FormatsAsPythonIsoformat) {
  const auto t = parse_timestamp("2026-11-29T20:00:00.123456+00:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_timestamp(*t), "2026-11-29T20:00:00.123456+00:00");
  const auto whole = parse_timestamp("2026-11-29T20:00:00+00:00");
  ASSERT_TRUE(whole);
  EXPECT_EQ(format_timestamp(*whole), "2026-11-29T20:00:00+00:00");
  EXPECT_EQ(*t - *whole, 123456us);
}

// Python's isoformat() text for the edges of every field (year 1 to 9999, the last microsecond of a
// day, a leap day), each read back to the same instant.
TEST(Timestamp, FormatsEveryFieldAtItsEdges) {
  const std::array<const char*, 7> texts = {
      "0001-01-01T00:00:00+00:00",        "9999-12-31T23:59:59.999999+00:00",
      "1969-12-31T23:59:59.000001+00:00", "2024-02-29T12:34:56.010203+00:00",
      "1970-01-01T00:00:00+00:00",        "2000-10-09T08:07:06.500000+00:00",
      "0999-09-30T09:09:09.000090+00:00"};
  for (const char* text : texts) {
    const auto t = parse_timestamp(text);
    ASSERT_TRUE(t) << text;
    EXPECT_EQ(format_timestamp(*t), text);
  }
}

TEST(Timestamp, AcceptedForms) {
  const auto base = parse_timestamp("2026-11-29T20:00:00+00:00");
  ASSERT_TRUE(base);
  EXPECT_EQ(parse_timestamp("2026-11-29T20:00:00Z"), base);
  EXPECT_EQ(parse_timestamp("2026-11-29T20:00:00"), base);
  EXPECT_EQ(parse_timestamp("2026-11-29 20:00:00"), base);
  EXPECT_EQ(parse_timestamp("2026-11-29T21:30:00+01:30"), base);
  EXPECT_EQ(parse_timestamp("2026-11-29T19:00:00-0100"), base);
  EXPECT_EQ(parse_timestamp("2026-11-29T20:00:00.5Z"), *base + 500ms);
  EXPECT_EQ(parse_timestamp("2026-11-29T20:00:00.123456789Z"), *base + 123456us);
}

TEST(Timestamp, RefusedForms) {
  for (const char* bad :
       {"", "2026-11-29", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-29T24:00:00Z",
        "2026-11-29T20:00:00.Z", "2026-11-29T20:00:00+25:00", "2026-11-29T20:00:00 junk",
        "yesterday", "2026-11-29T20:00:60Z"}) {
    EXPECT_FALSE(parse_timestamp(bad)) << bad;
  }
}

TEST(Timestamp, Window) {
  const auto now = now_utc();
  EXPECT_TRUE(within_window(now - 300s, now, 300s));
  EXPECT_TRUE(within_window(now + 300s, now, 300s));
  EXPECT_FALSE(within_window(now - 301s, now, 300s));
  EXPECT_FALSE(within_window(now + 301s, now, 300s));
}

TEST(ReplayGuard, NonceOncePerSenderWithinWindow) {
  replay_guard guard({.window = 300s, .max_nonces_per_sender = 100, .max_nonce_length = 16});
  const auto now = now_utc();
  EXPECT_TRUE(guard.check_and_record("alice", "n1", now, now));
  EXPECT_EQ(guard.check_and_record("alice", "n1", now, now).error().message,
            "Invalid message format: nonce already used");
  EXPECT_FALSE(guard.check("alice", "n1", now));
  EXPECT_TRUE(guard.check_and_record("bob", "n1", now, now));  // per sender
  // Once the frame's time has left the window, the nonce is forgotten.
  EXPECT_TRUE(guard.check("alice", "n1", now + 301s));
  EXPECT_FALSE(guard.check("alice", std::string(17, 'x'), now));
  EXPECT_FALSE(guard.check("alice", "", now));
}

TEST(ReplayGuard, MemoryIsBounded) {
  replay_guard guard({.window = 300s, .max_nonces_per_sender = 1000, .max_nonce_length = 32});
  const auto start = now_utc();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(guard.check_and_record("alice", std::to_string(i), start, start));
  }
  EXPECT_EQ(guard.size(), 1000u);
  const auto full = guard.check_and_record("alice", "one-more", start, start);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().message,
            "Invalid message format: too many messages within the timestamp window");
  // Later, the old nonces expire and room is made again.
  const auto later = start + 301s;
  EXPECT_TRUE(guard.check_and_record("alice", "one-more", later, later));
  EXPECT_EQ(guard.size(), 1u);
}

// Frames arrive with their senders' own clocks, so expiry times come in any order.
TEST(ReplayGuard, NoncesExpireByTheirOwnTimeInAnyOrder) {
  replay_guard guard({.window = 100s, .max_nonces_per_sender = 1000, .max_nonce_length = 32});
  const auto now = now_utc();
  const std::array offsets = {50, -40, 10, -90, 0, 30, -10};  // message time - now, seconds
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    ASSERT_TRUE(guard.check_and_record("alice", numbered("n", static_cast<long long>(i)),
                                       now + std::chrono::seconds(offsets[i]), now));
  }
  // 65 s later, exactly the nonces whose time + window has passed are forgotten.
  const auto later = now + 65s;
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    const bool expired = offsets[i] + 100 < 65;
    EXPECT_EQ(
        static_cast<bool>(guard.check("alice", numbered("n", static_cast<long long>(i)), later)),
        expired)
        << "offset " << offsets[i];
  }
  EXPECT_EQ(guard.size(), 5u);  // -90 and -40 are gone
}

}  // namespace
}  // namespace bettensor::protocol
