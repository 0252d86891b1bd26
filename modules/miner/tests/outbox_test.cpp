// The outbox runs the store on its own thread and resumes its caller on the caller's executor.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <filesystem>
#include <thread>

#include "outbox.hpp"

namespace net = boost::asio;
namespace fs = std::filesystem;
using bettensor::miner::detail::outbox;
using bettensor::miner::detail::outbox_closed;
using bettensor::storage::miner_store;
using bettensor::storage::storage_error;

namespace {

struct OutboxTest : ::testing::Test {
  fs::path dir =
      fs::temp_directory_path() / ("outbox-test-" + std::to_string(::getpid()) + "-" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }
};

struct where {
  std::thread::id job;
  std::thread::id resumed;
  std::size_t result = 0;
};

net::awaitable<void> count_predictions(outbox& box, where& w) {
  auto job = [&w](miner_store& s) {
    w.job = std::this_thread::get_id();
    return s.prediction_count() + 41;
  };
  w.result = co_await box.run(std::move(job), net::use_awaitable);
  w.resumed = std::this_thread::get_id();
}

net::awaitable<void> expect_throw(outbox& box, std::string& caught) {
  auto job = [](miner_store&) -> int { throw storage_error("disk full"); };
  try {
    co_await box.run(std::move(job), net::use_awaitable);
  } catch (const storage_error& e) {
    caught = e.what();
  } catch (const outbox_closed& e) {
    caught = std::string("closed: ") + e.what();
  }
}

}  // namespace

TEST_F(OutboxTest, RunsTheStoreOnItsOwnThreadAndResumesTheCallerOnItsExecutor) {
  net::io_context ioc;  // outlives the outbox, which completes jobs on it
  outbox box(dir / "miner.db");
  where w;
  net::co_spawn(ioc, count_predictions(box, w), [](const std::exception_ptr& e) {
    if (e) std::rethrow_exception(e);
  });
  ioc.run();  // returns once the coroutine ended: the job kept the context busy meanwhile
  EXPECT_EQ(w.result, 41U);
  EXPECT_NE(w.job, std::this_thread::get_id());
  EXPECT_NE(w.job, std::thread::id());
  EXPECT_EQ(w.resumed, std::this_thread::get_id());
}

TEST_F(OutboxTest, WhatTheJobThrowsReachesTheCaller) {
  net::io_context ioc;  // outlives the outbox, which completes jobs on it
  outbox box(dir / "miner.db");
  std::string caught;
  net::co_spawn(ioc, expect_throw(box, caught), net::detached);
  ioc.run();
  EXPECT_EQ(caught, "disk full");
}

TEST_F(OutboxTest, AfterCloseJobsFailWithoutReachingTheStore) {
  net::io_context ioc;
  outbox box(dir / "miner.db");
  box.close();
  box.close();  // idempotent
  std::string caught;
  net::co_spawn(ioc, expect_throw(box, caught), net::detached);
  ioc.run();
  EXPECT_EQ(caught, "closed: the miner's database is closed");
}

TEST_F(OutboxTest, AnUnusableFileIsRefusedAtOnce) {
  fs::create_directories(dir / "a-directory.db");
  EXPECT_THROW(outbox(dir / "a-directory.db"), storage_error);
}
