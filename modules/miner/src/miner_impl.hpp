// The miner service's inside, private to the module: the state on its strand and the steps
// that act on it. Its definitions are split by job: miner_service.cpp (construction, the tick,
// database failures, the public calls), miner_delivery.cpp (validators, their links and
// answers, the HTTP fallback), miner_predictions.cpp (accepting predictions, the strategy, the
// local API and the status).
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <unordered_map>

#include "bettensor/crypto/bytes.hpp"
#include "bettensor/crypto/ss58.hpp"
#include "bettensor/domain/rules.hpp"
#include "bettensor/miner/miner_service.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/replay_guard.hpp"
#include "bettensor/protocol/signing.hpp"
#include "bettensor/storage/miner_store.hpp"
#include "http_fallback.hpp"
#include "local_api.hpp"
#include "outbox.hpp"
#include "prediction_request.hpp"
#include "strategy.hpp"
#include "validator_directory.hpp"

namespace bettensor::miner {

namespace net = boost::asio;
namespace json = boost::json;
using steady = std::chrono::steady_clock;
using protocol::team_game;
using protocol::team_game_prediction;

namespace detail {

// One validator the miner delivers to. Touched on the miner's strand only.
struct peer {
  validator_endpoint endpoint;
  bool from_flag = false;
  crypto::public_key key{};
  std::unique_ptr<transport::validator_link> link;
  bool connected = false;
  steady::time_point down_since = steady::now();
  steady::time_point next_fallback{};
  bool fallback_running = false;
  bool ever_connected = false;
  bool resend_due = false;             // the outbox could not be read when it connected
  protocol::replay_guard http_nonces;  // confirmations received over HTTP
  std::unordered_map<std::string, steady::time_point> sent_at;  // WebSocket sends awaiting answers
};

inline constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

// What the outbox made of a new prediction (a copy of it went to the storage thread).
struct accept_outcome {
  std::optional<protocol::error> refusal;  // the rules or a duplicate id
  bool skipped = false;                    // only_if_unpredicted, and the game was predicted
};

// A game update as stored: how many were new or changed, how many were written, and why the
// rest were not.
struct games_stored {
  std::size_t changed = 0;
  std::size_t written = 0;
  std::optional<storage::storage_error> error;
};

// What the status needs from the database.
struct stored_counts {
  std::vector<std::size_t> pending;  // per validator asked for, in order
  std::size_t predictions = 0;
  std::size_t games = 0;
};

// How an answer came, for logs and miner_events::answered.
inline std::string_view via_text(metrics::channel c) {
  return c == metrics::channel::http ? "HTTP" : "WebSocket";
}

}  // namespace detail

using detail::accept_outcome;
using detail::games_stored;
using detail::peer;
using detail::stored_counts;
using detail::use_nothrow;
using detail::via_text;

struct miner_service::impl : std::enable_shared_from_this<miner_service::impl> {
  impl(net::io_context& io, miner_options o, crypto::hotkey id, miner_events ev);

  // --- validators --------------------------------------------------------------------------

  void sync_peers();
  void add_peer(const validator_endpoint& endpoint);
  bool current(const std::shared_ptr<peer>& p) const;
  void on_connected(const std::shared_ptr<peer>& p, std::optional<std::int64_t> uid);

  // Sends what `p` has not answered; if the outbox cannot be read now, the next tick retries.
  net::awaitable<void> resend_pending(std::shared_ptr<peer> p);
  void on_disconnected(const std::shared_ptr<peer>& p, const std::string& why);
  void send_ws(const std::shared_ptr<peer>& p, const protocol::team_game_prediction& pred);
  void on_message(const std::shared_ptr<peer>& p, const protocol::envelope& e);
  net::awaitable<void> on_games(std::shared_ptr<peer> p, std::vector<team_game> games);

  // Stores games (newest version wins); those the database refuses now wait for the next tick.
  // Returns how many were new or changed.
  net::awaitable<std::size_t> store_games(std::vector<team_game> games);

  // Records a validator's answer once; a second answer (after a re-send) changes nothing. An
  // answer the database refuses is kept in memory and recorded by a later tick.
  net::awaitable<void> record(std::shared_ptr<peer> p, std::string prediction_id, bool accepted,
                              std::string message, std::optional<std::chrono::microseconds> rtt,
                              metrics::channel c);

  // --- predictions -------------------------------------------------------------------------
  std::string miner_uid() const;

  // A prediction the validator would refuse, refused here with the validator's text.
  static protocol::error rule_refusal(protocol::rejection r) {
    return protocol::error{protocol::errc::invalid_format, std::string(protocol::text(r))};
  }

  // The rules against the stored game, then the outbox, in one step on the storage thread; the
  // prediction is sent only once it is committed. Throws storage_error when the database fails.
  // `only_if_unpredicted`: skipped (and returned as is) when the game has a prediction.
  enum class origin { strategy, api };
  net::awaitable<protocol::result<team_game_prediction>> accept(team_game_prediction pred,
                                                                origin from,
                                                                bool only_if_unpredicted = false);

  // Predicts every upcoming game not predicted yet, one run at a time (a request during a run
  // runs it again after). If the database fails, the next tick runs it again.
  void run_strategy();
  net::awaitable<void> strategy_runs();

  // False when the database failed.
  net::awaitable<bool> predict_upcoming();

  // --- HTTP fallback -----------------------------------------------------------------------
  void check_fallbacks();

  // Posts what `p` has not answered, one by one, while the validator's WebSocket stays down;
  // stops at the first prediction without a final answer and tries again after the grace
  // period.
  static net::awaitable<void> fallback(std::shared_ptr<impl> self, std::shared_ptr<peer> p);

  // --- the local API -----------------------------------------------------------------------
  // Throws storage_error when the database fails.
  net::awaitable<protocol::result<json::object>> api_submit(std::string body);

  // Throws storage_error when the database fails.
  net::awaitable<miner_status> snapshot();
  net::awaitable<json::object> status_json() { co_return status_json(co_await snapshot()); }

  static json::object status_json(const miner_status& s);
  // The miner's page (GET /ui/state): upcoming games, recent predictions with each validator's
  // answer (or pending), the validators and whether each is connected.
  net::awaitable<json::object> page_json();

  // miner_service::submit and status, on the strand.
  static net::awaitable<void> submitted(
      std::shared_ptr<impl> self, team_game_prediction p,
      std::function<void(protocol::result<team_game_prediction>)> done);
  static net::awaitable<void> status_of(std::shared_ptr<impl> self,
                                        std::function<void(miner_status)> done);

  // --- timers ------------------------------------------------------------------------------
  std::chrono::milliseconds tick_period() const;
  void count_connected();

  // The outbox gauge from the database (the increments and decrements between recounts keep
  // it current; a recount corrects for validators that came or went).
  net::awaitable<void> recount_outbox();

  // --- database failures -------------------------------------------------------------------
  // Disk full, a read-only file or an I/O error must not stop the miner: the failed step is
  // logged and counted, what it was given is kept, and the tick retries it. Nothing accepted is
  // lost, and nothing is accepted that was not stored.
  // Runs `job` on the outbox's thread; nullopt when the database failed (logged and counted)
  // or is closed (the miner is stopping).
  template <class F>
  net::awaitable<std::optional<std::invoke_result_t<F&, storage::miner_store&>>> stored(
      std::string_view what, F job) {
    try {
      co_return co_await box.run(std::move(job), net::use_awaitable);
    } catch (const storage::storage_error& e) {
      storage_failed(what, e);
    } catch (const detail::outbox_closed&) {
    }
    co_return std::nullopt;
  }

  // Runs a task on the strand; the service lives until it ends.
  void spawn(net::awaitable<void> task, std::string_view what);
  void storage_failed(std::string_view what, const storage::storage_error& e);
  net::awaitable<void> retry_storage();

  // The periodic work, one tick after the other.
  net::awaitable<void> ticks_loop();
  void check_metagraph(bool force) {
    if (directory.refresh(force)) sync_peers();
  }

  net::io_context& ioc;
  miner_options opts;
  crypto::hotkey identity;
  miner_events events;
  net::strand<net::io_context::executor_type> strand;
  net::steady_timer tick_timer;
  detail::outbox box;  // the database, on its own thread
  // Set by start(): the API's callback reaches the service only while it exists.
  std::shared_ptr<std::weak_ptr<impl>> api_owner = std::make_shared<std::weak_ptr<impl>>();
  detail::api_hooks hooks;
  std::unique_ptr<detail::local_api> api;
  detail::validator_directory directory;
  std::unique_ptr<chain::metagraph_sync> chain_sync;   // with --subtensor.*
  std::map<std::string, std::shared_ptr<peer>> peers;  // by validator hotkey
  std::optional<std::int64_t> uid_;
  std::unique_ptr<metrics::miner_metrics> mm;
  std::unique_ptr<metrics::metagraph_metrics> graph_metrics;
  std::uint64_t ticks = 0;
  bool stopping = false;
  // Waiting for the database (see stored()).
  struct unrecorded_answer {
    std::shared_ptr<peer> p;
    std::string prediction_id;
    bool accepted;
    std::string message;
    metrics::channel via;
  };
  std::vector<unrecorded_answer> unrecorded;
  std::map<std::string, protocol::team_game> unstored_games;  // by game_id
  bool strategy_due = false;      // the last run failed on the database: the tick runs it again
  bool strategy_running = false;  // one run at a time
  bool strategy_again = false;    // asked for during a run
};

}  // namespace bettensor::miner
