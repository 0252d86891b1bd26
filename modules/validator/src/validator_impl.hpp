// The validator service's inside, private to the module: the state and the steps that act on
// it. Its definitions are split by job: validator_service.cpp (start-up, who may connect, the
// watched files, the message handlers and the public calls), validator_messages.cpp (the game
// set and its broadcasts, predictions to verdicts), validator_http.cpp (the HTTP routes).
#pragma once

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <system_error>
#include <unordered_map>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/domain/file_stamp.hpp"
#include "bettensor/domain/metagraph.hpp"
#include "bettensor/domain/rules.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/storage/postgres_events.hpp"
#include "bettensor/storage/validator_store.hpp"
#include "bettensor/transport/event_stream.hpp"
#include "bettensor/validator/registry.hpp"
#include "bettensor/validator/validator_service.hpp"
#include "bettensor/validator/verdict_log.hpp"

namespace bettensor::validator {

namespace net = boost::asio;
namespace fs = std::filesystem;
using domain::blacklist;
using domain::check_prediction;
using domain::file_stamp;
using domain::game_book;
using domain::metagraph;
using domain::stamp_of;
using transport::http_response;

// The storage thread's time in the rules checks of the batch being committed: the commit stage
// is the batch's time less this.
inline thread_local double rules_seconds_in_batch = 0;
using transport::json_error;
using transport::peer_connection;

namespace detail {
inline constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);
}  // namespace detail
using detail::use_nothrow;

// The live page's session cookie, and whether a Cookie header carries `expected` in it.
inline constexpr std::string_view admin_cookie_name = "bettensor_admin";
bool has_admin_cookie(std::string_view header, std::string_view expected);

struct validator_service::impl : std::enable_shared_from_this<validator_service::impl> {
  impl(net::io_context& io, validator_options o, crypto::hotkey id);
  static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  void count_verdict(const storage::verdict& v, metrics::channel c) const;

  // --- start-up ------------------------------------------------------------------------------
  // The metagraph, the blacklist and the admin token; each error names its flag.
  void load_access_files();
  void open_store();

  // The games file when there is one, else the set stored by the last run.
  std::shared_ptr<const game_book> initial_games();
  void open_server(transport::server::callbacks cb);

  // --- who may connect -------------------------------------------------------------------------
  transport::auth_decision authorize(const std::string& hotkey) const;
  void reload_metagraph();
  // Installs a new metagraph (from the file or the chain) and closes the connections of hotkeys
  // it no longer lists.
  void apply_metagraph(const std::shared_ptr<const metagraph>& g, std::string_view from);
  void reload_blacklist();
  void reload_games();

  // --- games -----------------------------------------------------------------------------------
  std::shared_ptr<const game_book> current_games() const;

  struct games_outcome {
    bool changed = false;  // false: the set equals the last one applied
    std::size_t recipients = 0;
    std::optional<std::string> error;  // the set could not be stored: it is not installed
  };

  // Installs a game set: a changed set is stored first (on the storage thread, in order with
  // the predictions), then made current and broadcast once, on games_strand in the order given.
  // `done` (may be empty) runs after, on that strand. No thread here waits for the database.
  void apply_games(std::shared_ptr<const game_book> book,
                   std::function<void(games_outcome)> done = {});
  games_outcome install_games(const std::shared_ptr<const game_book>& book,
                              std::optional<std::string> error);

  // Installs a set another instance stored, read back from the store: it is not stored again.
  // `given_before` is games_given when the read was asked for; a read asked for before this
  // instance gave the store a newer set may hold an older one and is dropped (that newer set's
  // own announcement brings the read that counts). Installs after every set given before.
  void adopt_stored_games(std::shared_ptr<const game_book> book, std::uint64_t given_before);

  // The game set at start, stored before the service starts (no I/O thread runs yet).
  void apply_initial_games(const std::shared_ptr<const game_book>& book);
  transport::frame_ptr games_frame(const game_book& book) const;

  // --- predictions -----------------------------------------------------------------------------
  void submit(storage::miner_ref miner, protocol::team_game_prediction p,
              std::function<void(storage::verdict)> done);
  transport::frame_ptr confirmation_frame(const std::string& prediction_id,
                                          const storage::verdict& v) const;
  void handle_prediction(const std::shared_ptr<peer_connection>& peer, protocol::envelope&& e);

  // --- HTTP ------------------------------------------------------------------------------------
  // The application's routes (the server adds GET /ws/health). A route holds the service weakly:
  // a request arriving while it shuts down is answered 503.
  transport::route_table http_routes();
  void get_metrics(const transport::http_request&, const transport::http_reply& reply) {
    reply(http_response{200, opts.metrics->render(), "text/plain; version=0.0.4; charset=utf-8"});
  }

  // Every method counts as a request here, as the wire contract's metric always did.
  void post_prediction(const transport::http_request& req, transport::http_reply reply);
  void http_prediction(const transport::http_request& req,
                       std::function<void(http_response)> reply);
  void post_games(const transport::http_request& req, const transport::http_reply& reply);

  // Why an admin request is refused, if it is: no token configured, a remote client, no valid
  // token (the bearer token, or the page's session cookie), a cookie-borne POST that is not
  // JSON (a cross-site form).
  std::optional<http_response> admin_refusal(const transport::http_request& req) const;
  [[nodiscard]] bool same_admin_token(std::string_view token) const;

  // --- the admin API and the live page (validator_admin.cpp) ----------------------------------
  transport::route_table admin_routes();
  void record_verdict(const std::shared_ptr<peer_connection>& peer, std::string_view hotkey,
                      std::int64_t uid, std::string_view prediction_id, const storage::verdict& v,
                      metrics::channel c);
  void count_admin(std::string_view endpoint, unsigned status) const;
  http_response admin_connections() const;
  http_response admin_disconnect(const transport::http_request& req);
  http_response admin_predictions(const transport::http_request& req) const;
  http_response admin_page(const transport::http_request& req) const;
  http_response admin_login(const transport::http_request& req) const;
  http_response admin_events(const transport::http_request& req);
  // The page's state (connections, rates, games, the verdicts since the last one), pushed to
  // every event stream once a second while any is open.
  static net::awaitable<void> admin_ticker(std::shared_ptr<impl> self);
  // The page's state: connections, games, totals and the verdicts after `since_seq` up to
  // `upto_seq` (both seqs of the verdict log).
  std::string admin_state(bool first, std::uint64_t since_seq, std::uint64_t upto_seq) const;

  // A game set read on the storage thread, as that thread's callback, handled on the service's
  // executor: game_data is applied like a posted set, one another instance stored (read with
  // `given_before`) is adopted (adopt_stored_games).
  std::function<void(std::optional<std::vector<protocol::team_game>>)> game_set_reader(
      std::string_view from, std::optional<std::uint64_t> given_before = std::nullopt);

  // --- instances sharing one PostgreSQL database ----------------------------------------------
  // Listens for the other instances' game sets and connections (a no-op for other backends).
  void open_cluster();
  void on_cluster_event(const std::string& channel, const std::string& payload);
  // The stored game set, read again after another instance stored one (or after listening
  // resumed, when announcements may have been missed).
  void reload_stored_games();
  // Announces a hotkey's new connection here; another instance holding an older one closes it.
  void announce_session(const std::string& hotkey);
  void on_session_announced(const std::string& payload);

  // --- watched files ---------------------------------------------------------------------------
  static net::awaitable<void> watch_files(std::shared_ptr<impl> self);

  // Reloads each watched file whose stamp changed (or every one when `force`).
  void check_files(bool force);

  net::io_context& ioc;
  validator_options opts;
  std::shared_ptr<metrics::validator_metrics> m;
  crypto::hotkey identity;
  std::shared_ptr<protocol::replay_guard> nonces = std::make_shared<protocol::replay_guard>();
  std::unique_ptr<storage::validator_store> store;
  std::optional<transport::server> server;
  std::unique_ptr<handler_registry> registry;  // counts and times into *m
  std::string admin_token;
  std::string admin_cookie;  // the page's session: a keyed hash of the token, new each start
  verdict_log verdicts;
  net::steady_timer admin_timer;
  std::mutex streams_mutex;  // guards streams, streamed_seq, last_totals
  std::vector<std::shared_ptr<transport::event_stream>> streams;
  std::uint64_t streamed_seq = 0;  // the last verdict pushed to the streams
  verdict_log::totals last_totals;
  net::steady_timer watch_timer;
  transport::server::callbacks entry;  // what the server calls (also reachable without it)
  std::atomic<bool> stopping{false};

  mutable std::mutex mutex;  // guards graph, black, held, games
  std::shared_ptr<const metagraph> graph;
  std::shared_ptr<const blacklist> black;
  // Hotkeys the operator disconnected with a hold: refused at the handshake until then.
  mutable std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> held;
  std::shared_ptr<const game_book> games;
  std::mutex apply_mutex;           // guards applied_fingerprint and games_given
  std::string applied_fingerprint;  // the last set given to the store or adopted from it
  std::uint64_t games_given = 0;    // how many sets were given to the store so far
  net::strand<net::io_context::executor_type> games_strand;  // installs stored sets in order

  std::optional<file_stamp> metagraph_stamp;
  std::unique_ptr<chain::metagraph_sync> chain_sync;  // with --subtensor.*
  std::unique_ptr<metrics::metagraph_metrics> graph_metrics;
  std::optional<file_stamp> blacklist_stamp;
  std::optional<file_stamp> games_stamp;

  // With PostgreSQL: this instance's name in session announcements, the listener, and each
  // local connection's announcement token and whether the announcement came back in the
  // database's order (only a connection announced before another instance's newer one is
  // closed, so of two simultaneous connections exactly the later survives).
  std::string instance_id;
  std::unique_ptr<storage::postgres_events> cluster;
  struct session_mark {
    std::string token;
    bool announced = false;
  };
  std::mutex sessions_mutex;  // guards local_sessions
  std::unordered_map<std::string, session_mark> local_sessions;
};

}  // namespace bettensor::validator
