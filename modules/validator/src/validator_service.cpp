#include "bettensor/validator/validator_service.hpp"

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
#include <mutex>
#include <sstream>
#include <system_error>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/domain/file_stamp.hpp"
#include "bettensor/domain/metagraph.hpp"
#include "bettensor/domain/rules.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/storage/validator_store.hpp"
#include "bettensor/validator/registry.hpp"

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
using transport::json_error;
using transport::peer_connection;

namespace {

constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

std::string read_token(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw startup_error("--admin.token_file: cannot read " + file.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  const auto last = token.find_last_not_of(" \t\r\n");
  token.erase(last == std::string::npos ? 0 : last + 1);
  if (token.size() < 16) {
    throw startup_error("--admin.token_file: " + file.string() +
                        " must hold a token of at least 16 characters");
  }
  return token;
}

bool same_token(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

struct validator_service::impl : std::enable_shared_from_this<validator_service::impl> {
  impl(net::io_context& io, validator_options o, crypto::hotkey id)
      : ioc(io),
        opts(std::move(o)),
        identity(std::move(id)),
        watch_timer(net::make_strand(io)),
        games_strand(net::make_strand(io)) {
    if (!opts.metrics) opts.metrics = std::make_shared<metrics::registry>();
    m = std::make_shared<metrics::validator_metrics>(opts.metrics->get());
    opts.server.metrics = m;
    registry = std::make_unique<handler_registry>(*m);
  }

  static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  void count_verdict(const storage::verdict& v, metrics::channel c) const {
    if (v.duplicate) {
      metrics::at(m->predictions_duplicate, c).Increment();
    } else if (v.accepted()) {
      metrics::at(m->predictions_accepted, c).Increment();
    } else {
      metrics::at(m->predictions_rejected, *v.rejected).Increment();
    }
  }

  // --- start-up ------------------------------------------------------------------------------
  // The metagraph, the blacklist and the admin token; each error names its flag.
  void load_access_files() {
    auto g = metagraph::load(opts.metagraph_file);
    if (!g) throw startup_error("--metagraph.file: " + g.error().message);
    graph = *g;
    metagraph_stamp = stamp_of(opts.metagraph_file);
    if (opts.blacklist_file) {
      auto b = blacklist::load(*opts.blacklist_file);
      if (!b) throw startup_error("--blacklist.file: " + b.error().message);
      black = *b;
      blacklist_stamp = stamp_of(*opts.blacklist_file);
    }
    if (opts.admin_token_file) admin_token = read_token(*opts.admin_token_file);
  }

  void open_store() {
    try {
      store = std::make_unique<storage::validator_store>(
          storage::validator_store::options{opts.db_path, opts.daily_wager_limit, 512},
          [m = m](std::size_t batch, double seconds) {
            m->storage_batch_predictions->Observe(static_cast<double>(batch));
            m->storage_commit_seconds->Observe(seconds);
          });
    } catch (const storage::storage_error& e) {
      throw startup_error(std::string("--db.path: ") + e.what());
    }
  }

  // The games file when there is one, else the set stored by the last run.
  std::shared_ptr<const game_book> initial_games() {
    if (opts.games_file) {
      auto book = game_book::load(*opts.games_file);
      if (!book) throw startup_error("--games.file: " + book.error().message);
      games_stamp = stamp_of(*opts.games_file);
      return *book;
    }
    auto book = game_book::make(store->load_games());
    if (!book) throw startup_error("--db.path: stored games are invalid: " + book.error().message);
    return *book;
  }

  void open_server(transport::server::callbacks cb) {
    entry = cb;
    try {
      server.emplace(ioc, opts.server, identity, nonces, std::move(cb));
    } catch (const std::system_error& e) {
      throw startup_error("--websocket.port: cannot listen on " + opts.server.address + ":" +
                          std::to_string(opts.server.port) + ": " + e.what());
    } catch (const std::runtime_error& e) {
      throw startup_error(std::string("cannot start the server: ") + e.what());
    }
  }

  // --- who may connect -------------------------------------------------------------------------
  transport::auth_decision authorize(const std::string& hotkey) const {
    std::lock_guard lock(mutex);
    const auto uid = graph->uid_of(hotkey);
    if (!uid) return {false, protocol::auth_error(protocol::errc::not_registered), 0};
    if (black && black->contains(hotkey))
      return {false, protocol::auth_error(protocol::errc::blacklisted), 0};
    return {true, {}, *uid};
  }

  void reload_metagraph() {
    auto g = metagraph::load(opts.metagraph_file);
    if (!g) return spdlog::error("Metagraph not reloaded: {}", g.error().message);
    {
      std::lock_guard lock(mutex);
      graph = *g;
    }
    spdlog::info("Metagraph reloaded: {} neurons (block {})", (*g)->neurons().size(),
                 (*g)->block());
    server->disconnect_if([g = *g](const std::string& hk) { return !g->uid_of(hk); },
                          protocol::close_reason::deregistered,
                          protocol::auth_error(protocol::errc::not_registered).message);
  }

  void reload_blacklist() {
    auto b = blacklist::load(*opts.blacklist_file);
    if (!b) return spdlog::error("Blacklist not reloaded: {}", b.error().message);
    {
      std::lock_guard lock(mutex);
      black = *b;
    }
    spdlog::info("Blacklist reloaded: {} hotkeys", (*b)->size());
    server->disconnect_if([b = *b](const std::string& hk) { return b->contains(hk); },
                          protocol::close_reason::deregistered,
                          protocol::auth_error(protocol::errc::blacklisted).message);
  }

  void reload_games() {
    auto book = game_book::load(*opts.games_file);
    if (!book) return spdlog::error("Games not reloaded: {}", book.error().message);
    apply_games(*book);
  }

  // --- games -----------------------------------------------------------------------------------
  std::shared_ptr<const game_book> current_games() const {
    std::lock_guard lock(mutex);
    return games;
  }

  struct games_outcome {
    bool changed = false;  // false: the set equals the last one applied
    std::size_t recipients = 0;
    std::optional<std::string> error;  // the set could not be stored: it is not installed
  };

  // Installs a game set: a changed set is stored first (on the storage thread, in order with
  // the predictions), then made current and broadcast once, on games_strand in the order given.
  // `done` (may be empty) runs after, on that strand. No thread here waits for the database.
  void apply_games(std::shared_ptr<const game_book> book,
                   std::function<void(games_outcome)> done = {}) {
    {
      std::lock_guard lock(apply_mutex);
      if (applied_fingerprint == book->fingerprint()) {
        spdlog::debug("Game set unchanged: not broadcast");
        if (done) done({});
        return;
      }
      applied_fingerprint = book->fingerprint();
    }
    std::weak_ptr<impl> weak = shared_from_this();
    auto games_list = book->games();
    store->save_games(std::move(games_list), [weak, book = std::move(book), done = std::move(done)](
                                                 std::optional<std::string> error) mutable {
      auto self = weak.lock();
      if (!self) return;
      net::post(self->games_strand, [self, book = std::move(book), done = std::move(done),
                                     error = std::move(error)]() mutable {
        auto outcome = self->install_games(book, std::move(error));
        if (done) done(std::move(outcome));
      });
    });
  }

  games_outcome install_games(const std::shared_ptr<const game_book>& book,
                              std::optional<std::string> error) {
    if (error) {
      spdlog::error("Games not stored, keeping the previous set: {}", *error);
      std::lock_guard lock(apply_mutex);
      // The same set given again is tried again.
      const auto installed = current_games();
      applied_fingerprint = installed ? installed->fingerprint() : std::string();
      return {false, 0, std::move(error)};
    }
    auto frame = games_frame(*book);
    {
      std::lock_guard lock(mutex);
      games = book;
    }
    const std::size_t n = server->broadcast(frame);
    m->broadcasts->Increment();
    m->broadcast_recipients->Increment(static_cast<double>(n));
    spdlog::info("Broadcasting game updates to connected miners ({}): {} games", n,
                 book->games().size());
    return {true, n, std::nullopt};
  }

  // The game set at start, stored before the service starts (no I/O thread runs yet).
  void apply_initial_games(const std::shared_ptr<const game_book>& book) {
    std::promise<std::optional<std::string>> saved;
    auto result = saved.get_future();
    store->save_games(book->games(), [&saved](const std::optional<std::string>& error) {
      saved.set_value(error);
    });
    if (auto error = result.get())
      throw startup_error("--db.path: cannot store the games: " + *error);
    std::lock_guard lock(apply_mutex);
    applied_fingerprint = book->fingerprint();
    install_games(book, std::nullopt);
  }

  transport::frame_ptr games_frame(const game_book& book) const {
    protocol::game_update u{book.games(), protocol::format_timestamp(protocol::now_utc())};
    return server->make_frame(protocol::message_type::game_update, protocol::to_json(u));
  }

  // --- predictions -----------------------------------------------------------------------------
  void submit(const std::string& hotkey, protocol::team_game_prediction p,
              std::function<void(storage::verdict)> done) {
    auto book = current_games();
    const auto now = protocol::now_utc();
    store->submit(
        hotkey, std::move(p), now,
        [book = std::move(book), now](const protocol::team_game_prediction& pred) {
          return check_prediction(pred, *book, now);
        },
        std::move(done));
  }

  transport::frame_ptr confirmation_frame(const std::string& prediction_id,
                                          const storage::verdict& v) const {
    protocol::confirmation c{prediction_id, v.accepted() ? "success" : "error", v.message,
                             protocol::format_timestamp(protocol::now_utc()), std::nullopt};
    return server->make_frame(protocol::message_type::confirmation, protocol::to_json(c));
  }

  void handle_prediction(const std::shared_ptr<peer_connection>& peer, protocol::envelope&& e) {
    auto p = protocol::parse_prediction(e.data);
    if (!p) {
      spdlog::info("Invalid prediction from miner {} (UID: {}): {}", peer->hotkey(), peer->uid(),
                   p.error().message);
      peer->send(server->make_frame(protocol::message_type::error,
                                    protocol::to_json(protocol::error_data{p.error().message})));
      return;
    }
    std::string id = p->prediction_id;
    const auto t0 = std::chrono::steady_clock::now();
    submit(peer->hotkey(), std::move(*p),
           [self = shared_from_this(), peer, id, t0](const storage::verdict& v) {
             metrics::at(self->m->handler_seconds, protocol::frame_kind::prediction)
                 .Observe(seconds_since(t0));
             self->count_verdict(v, metrics::channel::websocket);
             // Sign on an I/O thread, not on the storage thread.
             net::post(self->ioc, [self, peer, id, v] {
               peer->send(self->confirmation_frame(id, v));
               spdlog::info("Sent confirmation for prediction {} via WebSocket ({}{})", id,
                            v.accepted() ? "success" : v.message, v.duplicate ? ", duplicate" : "");
             });
           });
  }

  // --- HTTP ------------------------------------------------------------------------------------
  // The application's routes (the server adds GET /ws/health). A route holds the service weakly:
  // a request arriving while it shuts down is answered 503.
  transport::route_table http_routes() {
    const std::weak_ptr<impl> weak = shared_from_this();
    const auto with = [weak](auto member) {
      return [weak, member](transport::http_request req, transport::http_reply reply) {
        auto self = weak.lock();
        if (!self) return reply(json_error(503, "Server closing"));
        ((*self).*member)(req, std::move(reply));
      };
    };
    transport::route_table t;
    t.add("GET", "/metrics", with(&impl::get_metrics));
    t.add("", "/predictions", with(&impl::post_prediction));
    t.add("POST", "/games", with(&impl::post_games));
    return t;
  }

  void get_metrics(const transport::http_request&, const transport::http_reply& reply) {
    reply(http_response{200, opts.metrics->render(), "text/plain; version=0.0.4; charset=utf-8"});
  }

  // Every method counts as a request here, as the wire contract's metric always did.
  void post_prediction(const transport::http_request& req, transport::http_reply reply) {
    m->http_prediction_requests->Increment();
    if (req.method != "POST") return reply(json_error(405, "Method not allowed"));
    http_prediction(req, std::move(reply));
  }

  void http_prediction(const transport::http_request& req,
                       std::function<void(http_response)> reply) {
    auto doc = protocol::parse_json(req.body);
    if (!doc) return reply(json_error(400, doc.error().message));
    auto e = protocol::parse_envelope(std::move(*doc));
    if (!e) return reply(json_error(400, e.error().message));
    if (e->type != protocol::message_type::prediction) {
      return reply(json_error(400, "Invalid message format: expected a prediction"));
    }
    const auto address = crypto::ss58_decode(e->sender);
    if (!address)
      return reply(
          json_error(400, "Invalid message format: field 'sender' is not an SS58 address"));
    const auto decision = authorize(e->sender);
    if (!decision.accepted) return reply(json_error(403, decision.refusal.message));
    const protocol::frame_expectations expect{e->sender, &address->key, protocol::now_utc(),
                                              opts.server.timestamp_window, nonces.get()};
    if (auto ok = protocol::verify_envelope(*e, expect); !ok) {
      spdlog::info("Invalid HTTP prediction from {}: {}", e->sender, ok.error().message);
      return reply(json_error(400, ok.error().message));
    }
    auto p = protocol::parse_prediction(e->data);
    if (!p) return reply(json_error(400, p.error().message));
    std::string id = p->prediction_id;
    submit(e->sender, std::move(*p),
           [self = shared_from_this(), id, reply = std::move(reply)](const storage::verdict& v) {
             self->count_verdict(v, metrics::channel::http);
             net::post(self->ioc, [self, id, v, reply] {
               reply(http_response{200, self->confirmation_frame(id, v)->text});
               spdlog::info("Sent confirmation for prediction {} via HTTP ({})", id,
                            v.accepted() ? "success" : v.message);
             });
           });
  }

  void post_games(const transport::http_request& req, const transport::http_reply& reply) {
    if (auto refused = admin_refusal(req)) return reply(std::move(*refused));
    auto book = game_book::parse(req.body);
    if (!book) return reply(json_error(400, book.error().message));
    const std::size_t count = (*book)->games().size();
    apply_games(*book, [reply, count](const games_outcome& o) {
      if (o.error) return reply(json_error(503, "Games not stored: " + *o.error));
      reply({200, boost::json::serialize(boost::json::object{{"status", "success"},
                                                             {"games", count},
                                                             {"changed", o.changed},
                                                             {"recipients", o.recipients}})});
    });
  }

  // Why an admin request is refused, if it is: no token configured, a remote client, a bad token.
  std::optional<http_response> admin_refusal(const transport::http_request& req) const {
    if (admin_token.empty())
      return json_error(403, "Admin endpoint disabled (no --admin.token_file)");
    if (!req.remote_is_loopback && !opts.admin_allow_remote) {
      spdlog::warn("Refused POST /games from {}: not a loopback client", req.remote_address);
      return json_error(403, "Admin endpoint accepts loopback clients only");
    }
    constexpr std::string_view bearer = "Bearer ";
    if (!req.authorization.starts_with(bearer) ||
        !same_token(std::string_view(req.authorization).substr(bearer.size()), admin_token)) {
      spdlog::warn("Refused POST /games from {}: bad admin token", req.remote_address);
      return json_error(401, "Invalid admin token");
    }
    return std::nullopt;
  }

  // --- watched files ---------------------------------------------------------------------------
  static net::awaitable<void> watch_files(std::shared_ptr<impl> self) {
    for (;;) {
      self->watch_timer.expires_after(self->opts.file_poll_interval);
      if (auto [ec] = co_await self->watch_timer.async_wait(use_nothrow); ec || self->stopping)
        co_return;
      self->check_files(false);
    }
  }

  // Reloads each watched file whose stamp changed (or every one when `force`).
  void check_files(bool force) {
    const auto changed = [&](const fs::path& p, std::optional<file_stamp>& last) {
      const auto now = stamp_of(p);
      if (!now) return false;
      if (!force && last && *now == *last) return false;
      last = now;
      return true;
    };
    if (changed(opts.metagraph_file, metagraph_stamp)) reload_metagraph();
    if (opts.blacklist_file && changed(*opts.blacklist_file, blacklist_stamp)) reload_blacklist();
    if (opts.games_file && changed(*opts.games_file, games_stamp)) reload_games();
  }

  net::io_context& ioc;
  validator_options opts;
  std::shared_ptr<metrics::validator_metrics> m;
  crypto::hotkey identity;
  std::shared_ptr<protocol::replay_guard> nonces = std::make_shared<protocol::replay_guard>();
  std::unique_ptr<storage::validator_store> store;
  std::optional<transport::server> server;
  std::unique_ptr<handler_registry> registry;  // counts and times into *m
  std::string admin_token;
  net::steady_timer watch_timer;
  transport::server::callbacks entry;  // what the server calls (also reachable without it)
  std::atomic<bool> stopping{false};

  mutable std::mutex mutex;  // guards graph, black, games
  std::shared_ptr<const metagraph> graph;
  std::shared_ptr<const blacklist> black;
  std::shared_ptr<const game_book> games;
  std::mutex apply_mutex;                                    // guards applied_fingerprint
  std::string applied_fingerprint;                           // the last set given to the store
  net::strand<net::io_context::executor_type> games_strand;  // installs stored sets in order

  std::optional<file_stamp> metagraph_stamp;
  std::optional<file_stamp> blacklist_stamp;
  std::optional<file_stamp> games_stamp;
};

namespace {

class prediction_handler final : public message_handler {
 public:
  explicit prediction_handler(validator_service::impl& svc) : svc_(svc) {}
  void handle(const std::shared_ptr<peer_connection>& peer, protocol::envelope&& e) override {
    svc_.handle_prediction(peer, std::move(e));
  }
  // Observed when the verdict is durable (handle_prediction).
  [[nodiscard]] bool timed_by_registry() const override { return false; }

 private:
  validator_service::impl& svc_;
};

class heartbeat_handler final : public message_handler {
 public:
  explicit heartbeat_handler(validator_service::impl& svc) : svc_(svc) {}
  void handle(const std::shared_ptr<peer_connection>& peer, protocol::envelope&&) override {
    peer->send(
        svc_.server->make_frame(protocol::message_type::heartbeat_ack, boost::json::object()));
  }

 private:
  validator_service::impl& svc_;
};

// The miner's answer to our heartbeat: receiving it already counts as activity.
class heartbeat_response_handler final : public message_handler {
 public:
  void handle(const std::shared_ptr<peer_connection>&, protocol::envelope&&) override {}
};

// One line per message type (see registry.hpp).
void register_handlers(validator_service::impl& s) {
  s.registry->add(std::string(protocol::message_type::prediction),
                  std::make_unique<prediction_handler>(s));
  s.registry->add(std::string(protocol::message_type::heartbeat),
                  std::make_unique<heartbeat_handler>(s));
  s.registry->add(std::string(protocol::message_type::heartbeat_response),
                  std::make_unique<heartbeat_response_handler>());
  s.registry->on_unknown(
      [&s](const std::shared_ptr<peer_connection>& peer, protocol::envelope&& e) {
        const std::string message = "Invalid message format: unknown message type '" + e.type + "'";
        spdlog::info("Miner {} (UID: {}) sent {}", peer->hotkey(), peer->uid(), message);
        peer->send(s.server->make_frame(protocol::message_type::error,
                                        protocol::to_json(protocol::error_data{message})));
      });
}

// What the server calls; each holds the service weakly, so a late call after it is gone is
// refused or dropped.
transport::server::callbacks server_callbacks(const std::shared_ptr<validator_service::impl>& s) {
  transport::server::callbacks cb;
  std::weak_ptr<validator_service::impl> weak = s;
  cb.authorize = [weak](const protocol::authenticated_peer& p) {
    auto self = weak.lock();
    return self ? self->authorize(p.hotkey)
                : transport::auth_decision{
                      false, protocol::error{protocol::errc::invalid_format, "Server closing"}, 0};
  };
  cb.on_authenticated = [weak](const std::shared_ptr<peer_connection>& peer) {
    // A newly connected miner gets the current games, signed for it: re-sending the broadcast
    // frame would repeat its nonce to a miner that may already have seen it.
    auto self = weak.lock();
    if (!self) return;
    const auto book = self->current_games();
    if (book && !book->games().empty()) peer->send(self->games_frame(*book));
  };
  cb.on_message = [weak](const std::shared_ptr<peer_connection>& peer, protocol::envelope e) {
    auto self = weak.lock();
    if (!self) return;
    self->registry->dispatch(peer, std::move(e));
  };
  cb.routes = s->http_routes();
  return cb;
}

}  // namespace

validator_service::validator_service(net::io_context& ioc, validator_options opts,
                                     crypto::hotkey identity)
    : impl_(std::make_shared<impl>(ioc, std::move(opts), std::move(identity))) {
  auto& s = *impl_;
  s.load_access_files();
  s.open_store();
  const auto initial = s.initial_games();
  register_handlers(s);
  s.open_server(server_callbacks(impl_));
  s.apply_initial_games(initial);
}

validator_service::~validator_service() = default;

std::vector<transport::session_info> validator_service::sessions() const {
  return impl_->server->sessions();
}

metrics::registry& validator_service::metrics() const {
  return *impl_->opts.metrics;
}

void validator_service::start() {
  impl_->server->start();
  net::co_spawn(impl_->watch_timer.get_executor(), impl::watch_files(impl_),
                [](const std::exception_ptr& e) {
                  if (e) spdlog::error("file watcher stopped");
                });
  spdlog::info("Validator {} listening on {}:{} (WebSocket path /ws)", impl_->identity.ss58,
               impl_->opts.server.address, port());
}

void validator_service::stop(std::function<void()> done) {
  auto self = impl_;
  self->stopping = true;
  net::post(self->watch_timer.get_executor(), [self] { self->watch_timer.cancel(); });
  self->server->stop([self, done = std::move(done)] {
    self->store->flush();
    spdlog::info("Validator stopped: connections closed, storage flushed");
    done();
  });
}

void validator_service::reload() {
  auto self = impl_;
  net::post(self->watch_timer.get_executor(), [self] { self->check_files(true); });
}

std::uint16_t validator_service::port() const {
  return impl_->server->local_port();
}

transport::auth_decision validator_service::authorize(
    const protocol::authenticated_peer& peer) const {
  return impl_->entry.authorize(peer);
}

void validator_service::deliver(const std::shared_ptr<transport::peer_connection>& peer,
                                protocol::envelope e) {
  impl_->entry.on_message(peer, std::move(e));
}

void validator_service::http(const transport::http_request& req,
                             std::function<void(transport::http_response)> reply) {
  impl_->entry.routes.dispatch(req, std::move(reply));
}

}  // namespace bettensor::validator
