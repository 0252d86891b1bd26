// The miner's database on a thread of its own: every call to the store (SQLite, an fsync per
// commit) runs there, and the coroutine that asked resumes on its own executor with the result.
// Nothing on the miner's strand waits for the disk.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>

#include "bettensor/storage/miner_store.hpp"

namespace bettensor::miner::detail {

/// A job refused because the outbox is closed (the miner is going away).
struct outbox_closed : std::runtime_error {
  outbox_closed() : std::runtime_error("the miner's database is closed") {}
};

class outbox {
 public:
  /// Opens the store (throws storage_error if it is unusable) and starts its thread.
  explicit outbox(const std::filesystem::path& db);
  /// close(), then joins the thread. Close (or destroy) the outbox before an executor its
  /// jobs complete on goes away: the job in progress may still be posting to it.
  ~outbox();
  outbox(const outbox&) = delete;
  outbox& operator=(const outbox&) = delete;

  /// Runs `f(store)` on the storage thread and completes `token` with (exception, result) on
  /// the token's associated executor: `co_await outbox.run(f, net::use_awaitable)` resumes
  /// there with the result, or rethrows what `f` threw (storage_error), or outbox_closed.
  /// `f` must return a value (not void).
  template <class F, class Token>
  auto run(F f, Token&& token) {
    using result = std::invoke_result_t<F&, storage::miner_store&>;
    static_assert(!std::is_void_v<result>, "return a value from an outbox job");
    return boost::asio::async_initiate<Token, void(std::exception_ptr, result)>(
        [this](auto handler, F job) {
          auto work = boost::asio::make_work_guard(boost::asio::get_associated_executor(handler));
          // The handler leaves the storage thread as soon as the job is done, so that thread
          // never holds the last reference to a waiting coroutine.
          auto complete = [handler = std::move(handler), work = std::move(work)](
                              std::exception_ptr e, result r) mutable {
            auto ex = work.get_executor();
            boost::asio::post(ex, [handler = std::move(handler), work = std::move(work), e,
                                   r = std::move(r)]() mutable { handler(e, std::move(r)); });
          };
          if (closed()) return complete(std::make_exception_ptr(outbox_closed()), result{});
          boost::asio::post(ctx_,
                            [this, job = std::move(job), complete = std::move(complete)]() mutable {
                              // Once closed, what is still queued fails fast: nothing reaches the
                              // store.
                              if (closed())
                                return complete(std::make_exception_ptr(outbox_closed()), result{});
                              try {
                                auto r = job(store_);
                                complete(nullptr, std::move(r));
                              } catch (...) {
                                complete(std::current_exception(), result{});
                              }
                            });
        },
        token, std::move(f));
  }

  /// From now on every job (queued or new) completes with outbox_closed instead of running;
  /// returns once the job in progress, if any, has finished. Idempotent.
  void close();

 private:
  [[nodiscard]] bool closed() const;

  storage::miner_store store_;  // the storage thread only
  boost::asio::io_context ctx_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  mutable std::mutex mutex_;
  bool closed_ = false;
  std::thread thread_;
};

}  // namespace bettensor::miner::detail
