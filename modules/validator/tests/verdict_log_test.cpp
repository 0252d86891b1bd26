#include "bettensor/validator/verdict_log.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace bettensor::validator {
namespace {

void record_n(verdict_log& log, int from, int to) {
  for (int i = from; i < to; ++i)
    log.record("hk", i, "p-" + std::to_string(i), i % 3 != 0, false, i % 3 != 0 ? "" : "bad",
               "websocket");
}

std::vector<std::string> ids(const verdict_log::page& p) {
  std::vector<std::string> out;
  for (const auto& r : p.items) out.push_back(r.prediction_id);
  return out;
}

TEST(VerdictLog, PagesRunNewestFirstAndTheCursorContinuesWhereAPageEnded) {
  verdict_log log(10);
  EXPECT_TRUE(log.newest(std::nullopt, 5).items.empty());
  EXPECT_FALSE(log.newest(std::nullopt, 5).next);
  record_n(log, 1, 6);  // p-1 .. p-5
  EXPECT_EQ(log.last_seq(), 5U);
  const auto first = log.newest(std::nullopt, 2);
  EXPECT_EQ(ids(first), (std::vector<std::string>{"p-5", "p-4"}));
  ASSERT_TRUE(first.next);
  const auto second = log.newest(first.next, 2);
  EXPECT_EQ(ids(second), (std::vector<std::string>{"p-3", "p-2"}));
  const auto last = log.newest(second.next, 2);
  EXPECT_EQ(ids(last), (std::vector<std::string>{"p-1"}));
  EXPECT_FALSE(last.next);
  EXPECT_EQ(first.items[0].seq, 5U);
  EXPECT_EQ(first.items[0].uid, 5);
  EXPECT_EQ(std::string(first.items[0].channel), "websocket");
  // A cursor past the newest starts at the newest; before 1 there is nothing.
  EXPECT_EQ(ids(log.newest(1000, 1)), (std::vector<std::string>{"p-5"}));
  EXPECT_TRUE(log.newest(1, 5).items.empty());
}

TEST(VerdictLog, TheRingKeepsTheLastCapacityVerdictsAndTotalsCountEveryOne) {
  verdict_log log(4);
  record_n(log, 1, 11);  // p-1 .. p-10; the ring holds p-7 .. p-10
  const auto all = log.newest(std::nullopt, 100);
  EXPECT_EQ(ids(all), (std::vector<std::string>{"p-10", "p-9", "p-8", "p-7"}));
  EXPECT_FALSE(all.next);
  // A cursor into verdicts that have left the ring finds nothing rather than wrong ones.
  EXPECT_TRUE(log.newest(5, 10).items.empty());
  const auto t = log.counts();
  EXPECT_EQ(t.accepted + t.refused, 10U);
  EXPECT_EQ(t.refused, 3U);  // p-3, p-6, p-9
  EXPECT_EQ(all.items[0].message, "");
  EXPECT_EQ(log.newest(std::nullopt, 2).items[1].message, "bad");  // p-9
}

TEST(VerdictLog, RecordsFromSeveralThreadsGetDistinctSequenceNumbers) {
  verdict_log log(1000);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&log, t] { record_n(log, t * 200, t * 200 + 200); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(log.last_seq(), 800U);
  const auto page = log.newest(std::nullopt, 1000);
  ASSERT_EQ(page.items.size(), 800U);
  for (std::size_t i = 0; i < page.items.size(); ++i) EXPECT_EQ(page.items[i].seq, 800U - i);
}

}  // namespace
}  // namespace bettensor::validator
