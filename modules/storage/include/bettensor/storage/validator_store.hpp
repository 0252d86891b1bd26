// The validator's verdict pipeline over a prediction ledger (ledger.hpp; chosen by db_url.hpp):
// every prediction is decided in order (duplicate → the original verdict, the rules, the daily
// limit) and committed on one storage thread, in groups: every request waiting when a batch
// starts is decided and written in one transaction, and no verdict is delivered before its
// transaction has committed. So a success confirmation never leaves for a prediction that is not
// on disk, durability costs one fsync per batch, not per prediction, and a backend only looks up
// and writes. Game sets are stored on the same thread, in order with the predictions; nothing
// here blocks the caller's thread but the read-only queries, flush() and the destructor.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>

#include "bettensor/protocol/messages.hpp"
#include "bettensor/protocol/outcome.hpp"
#include "bettensor/protocol/timestamp.hpp"
#include "bettensor/storage/db_url.hpp"
#include "bettensor/storage/ledger.hpp"
#include "bettensor/storage/storage_error.hpp"

namespace bettensor::storage {

/// The stateless rules, run on the storage thread after the duplicate check and before the daily
/// limit. Returns the rule broken, or nullopt to accept.
using prediction_rules =
    std::function<std::optional<protocol::rejection>(const protocol::team_game_prediction&)>;

/// Who sent a prediction: the authenticated hotkey and, when known, its uid in the metagraph.
/// Converts from a hotkey alone.
struct miner_ref {
  miner_ref(std::string hk, std::optional<std::int64_t> u = std::nullopt)  // NOLINT(*-explicit-*)
      : hotkey(std::move(hk)), uid(u) {}
  miner_ref(const char* hk) : hotkey(hk) {}  // NOLINT(*-explicit-*)
  std::string hotkey;
  std::optional<std::int64_t> uid;
};

/// Why a batch is being decided again (the retry observer's argument).
enum class retry_reason {
  unavailable,  // the database could not be reached or locked: tried again after a backoff
  conflict,     // another instance wrote one of its ids first: decided again at once
};

class validator_store {
 public:
  struct options {
    db_url url;
    double daily_wager_limit = 1000.0;
    std::size_t max_batch = 512;
    /// How long a batch waits for an unavailable database (retrying with backoff from
    /// retry_base, doubling up to retry_max) before its predictions are refused with the
    /// storage failure text. Nothing is confirmed before its commit either way.
    std::chrono::milliseconds retry_for{30000};
    std::chrono::milliseconds retry_base{50};
    std::chrono::milliseconds retry_max{2000};
  };
  /// Called on the storage thread after each committed batch: its size and the seconds spent
  /// deciding and committing it.
  using commit_observer = std::function<void(std::size_t, double)>;
  /// Called on the storage thread when a batch is tried again, with the failure's text, and
  /// once with (nullopt, "") when an unavailable database answers again.
  using retry_observer =
      std::function<void(std::optional<retry_reason>, const std::string& message)>;

  /// Opens opts.url's backend (open_ledger): creates or migrates its schema and checks it.
  /// Throws storage_error with a message naming the database otherwise: it never silently starts
  /// empty.
  explicit validator_store(const options& opts, commit_observer on_commit = {},
                           retry_observer on_retry = {});
  /// Any backend (opts.url is not used).
  validator_store(std::unique_ptr<prediction_ledger> ledger, options opts,
                  commit_observer on_commit = {}, retry_observer on_retry = {});
  /// Finishes every submitted prediction, then closes the database.
  ~validator_store();
  validator_store(const validator_store&) = delete;
  validator_store& operator=(const validator_store&) = delete;

  /// Decides and stores one prediction. `done` runs on the storage thread once the verdict is
  /// durable (post it to your own executor).
  void submit(miner_ref miner, protocol::team_game_prediction prediction,
              protocol::timestamp received, prediction_rules rules,
              std::function<void(verdict)> done);

  /// submit() for Asio: the verdict completes `token` on its associated executor, so
  /// `co_await store.async_submit(..., net::use_awaitable)` resumes on the caller's executor,
  /// and a handler bound with net::bind_executor runs there.
  template <class Token>
  auto async_submit(miner_ref miner, protocol::team_game_prediction prediction,
                    protocol::timestamp received, prediction_rules rules, Token&& token) {
    return boost::asio::async_initiate<Token, void(verdict)>(
        [this, miner = std::move(miner), prediction = std::move(prediction), received,
         rules = std::move(rules)](auto handler) mutable {
          auto ex = boost::asio::get_associated_executor(handler);
          // std::function needs a copyable callable; Asio's handlers are move-only.
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          submit(std::move(miner), std::move(prediction), received, std::move(rules),
                 [ex, shared](verdict v) {
                   boost::asio::dispatch(
                       ex, [shared, v = std::move(v)]() mutable { (*shared)(std::move(v)); });
                 });
        },
        token);  // async_initiate takes the token as an lvalue
  }

  /// Blocks until everything submitted so far is decided and committed.
  void flush();

  /// Replaces the stored game set, after everything submitted before it. `done` runs on the
  /// storage thread with nullopt once it is committed, or the failure's text.
  void save_games(std::vector<protocol::team_game> games,
                  std::function<void(std::optional<std::string> error)> done);

  // Read-only queries (start-up, tests, health): each waits for the storage thread, so never
  // call them from a thread that must not block.
  [[nodiscard]] std::vector<protocol::team_game> load_games();
  /// Runs `done` on the storage thread with the game set if another program changed it in the
  /// database since the last look (prediction_ledger::games_changed), else with nullopt; a
  /// failure to look counts as unchanged and is logged.
  void poll_games(std::function<void(std::optional<std::vector<protocol::team_game>>)> done);
  /// Runs `done` on the storage thread with the stored game set (nullopt when it cannot be read,
  /// which is logged), in order with everything submitted before.
  void read_games(std::function<void(std::optional<std::vector<protocol::team_game>>)> done);
  [[nodiscard]] std::size_t accepted_count();
  [[nodiscard]] std::size_t prediction_rows(const std::string& prediction_id);
  [[nodiscard]] double daily_total(const std::string& hotkey, protocol::timestamp day);
  [[nodiscard]] std::size_t batches_committed() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace bettensor::storage
