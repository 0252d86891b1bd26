// The verdict pipeline over a ledger that is not SQLite: a second backend is one class behind
// prediction_ledger, and the pipeline gives it the same semantics (the original verdict for a
// known id, even within one batch; the rules before the daily limit; the limit per UTC day over
// what is stored and what the batch accepted; a failed batch stores nothing and refuses all).
// Also: async_submit completes on the caller's executor.
#include <gtest/gtest.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <future>
#include <map>
#include <stdexcept>
#include <thread>

#include "bettensor/storage/validator_store.hpp"

namespace bettensor::storage {
namespace {

namespace net = boost::asio;

// The whole backend: maps in memory, and a switch to fail the next record().
class memory_ledger final : public prediction_ledger {
 public:
  std::optional<verdict> find_verdict(const std::string& id) override {
    const auto it = rows.find(id);
    if (it == rows.end()) return std::nullopt;
    verdict v = it->second;
    v.duplicate = true;
    return v;
  }
  double daily_total(const std::string& hotkey, const std::string& day) override {
    const auto it = totals.find({hotkey, day});
    return it == totals.end() ? 0.0 : it->second;
  }
  void record(const std::vector<ledger_entry>& batch) override {
    if (fail_always || fail_next.exchange(false)) throw std::runtime_error("disk on fire");
    for (const auto& e : batch) {
      if (e.prediction.prediction_id == poison) throw std::runtime_error("cannot hold it");
    }
    ++records;
    for (const auto& e : batch) {
      rows[e.prediction.prediction_id] = e.decision;
      if (e.decision.accepted()) totals[{e.hotkey, e.utc_day}] += e.prediction.wager;
    }
  }
  void discard() noexcept override { ++discards; }
  void replace_games(const std::vector<protocol::team_game>& g) override { games = g; }
  std::vector<protocol::team_game> load_games() override { return games; }
  std::size_t accepted_count() override {
    std::size_t n = 0;
    for (const auto& [id, v] : rows) n += v.accepted() ? 1 : 0;
    return n;
  }
  std::size_t prediction_rows(const std::string& id) override { return rows.count(id); }

  std::map<std::string, verdict> rows;
  std::map<std::pair<std::string, std::string>, double> totals;
  std::vector<protocol::team_game> games;
  std::atomic<bool> fail_next{false};
  std::atomic<bool> fail_always{false};
  std::string poison;  // an id record() refuses
  int records = 0;
  int discards = 0;
};

protocol::team_game_prediction prediction(std::string id, double wager) {
  return {.prediction_id = std::move(id), .game_id = "g-1", .miner_uid = "7", .wager = wager};
}

const protocol::timestamp day1 = protocol::parse_timestamp("2026-11-29T10:00:00+00:00").value();

class PipelineTest : public ::testing::Test {
 protected:
  PipelineTest() {
    auto l = std::make_unique<memory_ledger>();
    ledger_ = l.get();
    store_.emplace(std::move(l), validator_store::options{{}, 1000.0, 512});
  }

  // Submits every prediction before the storage thread can take any, so they form one batch
  // (the storage thread is busy with a task that waits for the last submission).
  std::vector<verdict> one_batch(const std::vector<protocol::team_game_prediction>& ps,
                                 const prediction_rules& rules = {}) {
    std::promise<void> go;
    auto gate = go.get_future().share();
    store_->save_games({}, [gate](const std::optional<std::string>&) { gate.wait(); });
    std::vector<std::promise<verdict>> done(ps.size());
    for (std::size_t i = 0; i < ps.size(); ++i)
      store_->submit("alice", ps[i], day1, rules, [&done, i](verdict v) { done[i].set_value(v); });
    go.set_value();
    std::vector<verdict> out;
    for (auto& d : done) out.push_back(d.get_future().get());
    return out;
  }

  memory_ledger* ledger_ = nullptr;
  std::optional<validator_store> store_;
};

TEST_F(PipelineTest, DuplicateInsideOneBatchGetsTheOriginalVerdict) {
  const auto v = one_batch({prediction("a", 10), prediction("a", 10), prediction("b", 0)},
                           [](const protocol::team_game_prediction& p) {
                             return p.wager <= 0
                                        ? std::optional(protocol::rejection::non_positive_wager)
                                        : std::optional<protocol::rejection>();
                           });
  EXPECT_TRUE(v[0].accepted());
  EXPECT_FALSE(v[0].duplicate);
  EXPECT_TRUE(v[1].accepted());
  EXPECT_TRUE(v[1].duplicate);
  EXPECT_EQ(v[2].rejected, protocol::rejection::non_positive_wager);
  EXPECT_EQ(ledger_->records, 1);  // one batch, one record()
  EXPECT_EQ(store_->accepted_count(), 1U);
  EXPECT_EQ(store_->daily_total("alice", day1), 10.0);
}

TEST_F(PipelineTest, DailyLimitCountsWhatTheBatchAccepted) {
  const auto v = one_batch({prediction("a", 600), prediction("b", 400), prediction("c", 1)});
  EXPECT_TRUE(v[0].accepted());
  EXPECT_TRUE(v[1].accepted());
  EXPECT_EQ(v[2].message, "Prediction would exceed daily wager limit");
  // A later batch sees the stored total.
  EXPECT_EQ(one_batch({prediction("d", 1)})[0].rejected, protocol::rejection::daily_limit);
  EXPECT_EQ(store_->daily_total("alice", day1 + std::chrono::hours(24)), 0.0);
}

TEST_F(PipelineTest, FailedBatchStoresNothingAndRefusesAll) {
  ledger_->fail_always = true;
  const auto v = one_batch({prediction("a", 1), prediction("b", 1)});
  for (const auto& x : v) EXPECT_EQ(x.rejected, protocol::rejection::storage_failure);
  EXPECT_EQ(ledger_->discards, 3);  // the batch, then each prediction alone
  EXPECT_EQ(store_->prediction_rows("a"), 0U);
  // Nothing was stored, so the same ids are decided afresh.
  ledger_->fail_always = false;
  EXPECT_TRUE(one_batch({prediction("a", 1)})[0].accepted());
}

TEST_F(PipelineTest, APredictionTheDatabaseRefusesIsRefusedAloneNotItsBatch) {
  ledger_->poison = "b";
  const auto v = one_batch({prediction("a", 1), prediction("b", 1), prediction("c", 1)});
  EXPECT_TRUE(v[0].accepted());
  EXPECT_EQ(v[1].rejected, protocol::rejection::storage_failure);
  EXPECT_TRUE(v[2].accepted());
  EXPECT_EQ(store_->accepted_count(), 2U);
  EXPECT_EQ(store_->prediction_rows("b"), 0U);
}

TEST_F(PipelineTest, AsyncSubmitResumesOnTheCallersExecutor) {
  net::io_context ioc;
  std::optional<verdict> got;
  std::thread::id resumed_on;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        got = co_await store_->async_submit("alice", prediction("co", 5), day1, {},
                                            net::use_awaitable);
        resumed_on = std::this_thread::get_id();
      },
      net::detached);
  std::optional<verdict> bound;
  store_->async_submit("alice", prediction("co", 5), day1, {},
                       net::bind_executor(ioc, [&](verdict v) { bound = std::move(v); }));
  ioc.run();  // returns once both verdicts arrived and ran here
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->accepted());
  EXPECT_EQ(resumed_on, std::this_thread::get_id());
  ASSERT_TRUE(bound);
  EXPECT_TRUE(bound->accepted());
  EXPECT_NE(got->duplicate, bound->duplicate);  // the same id: one of them came second
  // ioc.run() can return while the storage thread is still inside its post to `ioc` (waking a
  // thread after queuing the handler): wait until it is out before `ioc` is destroyed.
  store_->flush();
}

TEST_F(PipelineTest, GamesAreReplacedInOrderWithPredictions) {
  protocol::team_game g;
  g.game_id = "g-9";
  std::promise<std::optional<std::string>> saved;
  store_->save_games({g}, [&](std::optional<std::string> e) { saved.set_value(std::move(e)); });
  EXPECT_EQ(saved.get_future().get(), std::nullopt);
  ASSERT_EQ(store_->load_games().size(), 1U);
  EXPECT_EQ(store_->load_games()[0].game_id, "g-9");
}

}  // namespace
}  // namespace bettensor::storage
