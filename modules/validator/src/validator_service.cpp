#include "validator_impl.hpp"

namespace bettensor::validator {

namespace {

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

}  // namespace

validator_service::impl::impl(net::io_context& io, validator_options o, crypto::hotkey id)
    : ioc(io),
      opts(std::move(o)),
      identity(std::move(id)),
      admin_timer(net::make_strand(io)),
      watch_timer(net::make_strand(io)),
      games_strand(net::make_strand(io)) {
  if (!opts.metrics) opts.metrics = std::make_shared<metrics::registry>();
  m = std::make_shared<metrics::validator_metrics>(opts.metrics->get());
  graph_metrics = std::make_unique<metrics::metagraph_metrics>(opts.metrics->get());
  opts.server.metrics = m;
  registry = std::make_unique<handler_registry>(*m);
}

void validator_service::impl::count_verdict(const storage::verdict& v, metrics::channel c) const {
  if (v.duplicate) {
    metrics::at(m->predictions_duplicate, c).Increment();
  } else if (v.accepted()) {
    metrics::at(m->predictions_accepted, c).Increment();
  } else {
    metrics::at(m->predictions_rejected, *v.rejected).Increment();
  }
}

void validator_service::impl::load_access_files() {
  if (opts.chain) {
    // Snapshots arrive on the sync's strand; they are installed where the files are re-read.
    auto on_snapshot = [weak = weak_from_this(),
                        ex = watch_timer.get_executor()](std::shared_ptr<const metagraph> g) {
      net::post(ex, [weak, g = std::move(g)] {
        if (auto self = weak.lock(); self && !self->stopping) self->apply_metagraph(g, "chain");
      });
    };
    try {
      chain_sync = std::make_unique<chain::metagraph_sync>(watch_timer.get_executor(), *opts.chain,
                                                           opts.metrics->get(), on_snapshot);
    } catch (const std::invalid_argument& e) {
      throw startup_error(std::string("--subtensor.chain_endpoint: ") + e.what());
    }
    graph = chain_sync->cached();
    if (!graph) {
      spdlog::warn("No metagraph yet: every miner is refused until the first sync from {}",
                   transport::to_string(opts.chain->rpc.url));
      graph = metagraph::make(opts.chain->netuid, 0, {});
    }
  } else {
    auto g = metagraph::load(opts.metagraph_file);
    if (!g) throw startup_error("--metagraph.file: " + g.error().message);
    graph = *g;
    metagraph_stamp = stamp_of(opts.metagraph_file);
  }
  graph_metrics->block->Set(static_cast<double>(graph->block()));
  graph_metrics->neurons->Set(static_cast<double>(graph->neurons().size()));
  if (opts.blacklist_file) {
    auto b = blacklist::load(*opts.blacklist_file);
    if (!b) throw startup_error("--blacklist.file: " + b.error().message);
    black = *b;
    blacklist_stamp = stamp_of(*opts.blacklist_file);
  }
  if (opts.admin_token_file) {
    admin_token = read_token(*opts.admin_token_file);
    // The page's cookie is a hash of the token keyed by this process: it never holds the token
    // and every restart signs the page out.
    std::array<unsigned char, crypto_generichash_KEYBYTES> key{};
    randombytes_buf(key.data(), key.size());
    std::array<unsigned char, 32> mac{};
    crypto_generichash(mac.data(), mac.size(),
                       reinterpret_cast<const unsigned char*>(admin_token.data()),
                       admin_token.size(), key.data(), key.size());
    std::array<char, 65> hex{};
    sodium_bin2hex(hex.data(), hex.size(), mac.data(), mac.size());
    admin_cookie = hex.data();
  }
}

void validator_service::impl::open_store() {
  storage::validator_store::options o;
  o.url = opts.db;
  o.daily_wager_limit = opts.daily_wager_limit;
  o.retry_for = opts.db_retry_for;
  auto on_commit = [m = m](std::size_t batch, double seconds) {
    m->storage_batch_predictions->Observe(static_cast<double>(batch));
    m->storage_commit_seconds->Observe(seconds);
    // The storage thread's CPU since the previous batch (deciding, writing, handing the
    // verdicts on), less the rules checks counted on their own.
    thread_local double last_cpu = metrics::thread_cpu_seconds();
    const double cpu = metrics::thread_cpu_seconds();
    metrics::at(m->stage_seconds, metrics::stage::commit)
        .Increment(std::max(
            0.0, cpu - std::exchange(last_cpu, cpu) - std::exchange(rules_seconds_in_batch, 0.0)));
  };
  auto on_retry = [m = m](std::optional<storage::retry_reason> why, const std::string& message) {
    if (!why) {
      m->storage_available->Set(1);
      return spdlog::info("Database answers again: waiting verdicts are being decided");
    }
    if (*why == storage::retry_reason::conflict) {
      m->storage_retries_conflict->Increment();
      return spdlog::debug("Batch decided again: another instance stored first ({})", message);
    }
    m->storage_retries_unavailable->Increment();
    m->storage_available->Set(0);
    spdlog::warn("Database unavailable, verdicts wait: {}", message);
  };
  try {
    store = std::make_unique<storage::validator_store>(o, on_commit, on_retry);
  } catch (const storage::storage_error& e) {
    throw startup_error(opts.db_flag + ": " + e.what());
  }
  spdlog::info("Storage: {} ({})", storage::to_string(opts.db), storage::label(opts.db.kind));
  m->storage_info->Add({{"backend", std::string(storage::label(opts.db.kind))}}).Set(1);
}

std::shared_ptr<const game_book> validator_service::impl::initial_games() {
  if (opts.games_file) {
    auto book = game_book::load(*opts.games_file);
    if (!book) throw startup_error("--games.file: " + book.error().message);
    games_stamp = stamp_of(*opts.games_file);
    return *book;
  }
  auto book = game_book::make(store->load_games());
  if (!book)
    throw startup_error(opts.db_flag + ": stored games are invalid: " + book.error().message);
  return *book;
}

void validator_service::impl::open_server(transport::server::callbacks cb) {
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

transport::auth_decision validator_service::impl::authorize(const std::string& hotkey) const {
  std::lock_guard lock(mutex);
  const auto uid = graph->uid_of(hotkey);
  if (!uid) return {false, protocol::auth_error(protocol::errc::not_registered), 0};
  if (black && black->contains(hotkey))
    return {false, protocol::auth_error(protocol::errc::blacklisted), 0};
  if (const auto h = held.find(hotkey); h != held.end()) {
    if (std::chrono::steady_clock::now() < h->second)
      return {false, protocol::auth_error(protocol::errc::held_off), 0};
    held.erase(h);
  }
  return {true, {}, *uid};
}

void validator_service::impl::reload_metagraph() {
  auto g = metagraph::load(opts.metagraph_file);
  if (!g) return spdlog::error("Metagraph not reloaded: {}", g.error().message);
  apply_metagraph(*g, "file");
}

void validator_service::impl::apply_metagraph(const std::shared_ptr<const metagraph>& g,
                                              std::string_view from) {
  std::size_t before = 0;
  {
    std::lock_guard lock(mutex);
    before = graph->neurons().size();
    graph = g;
  }
  graph_metrics->block->Set(static_cast<double>(g->block()));
  graph_metrics->neurons->Set(static_cast<double>(g->neurons().size()));
  if (from == "chain" && before == g->neurons().size()) {
    spdlog::debug("Metagraph from the chain: {} neurons (block {})", g->neurons().size(),
                  g->block());
  } else {
    spdlog::info("Metagraph from the {}: {} neurons (block {})", from, g->neurons().size(),
                 g->block());
  }
  server->disconnect_if([g](const std::string& hk) { return !g->uid_of(hk); },
                        protocol::close_reason::deregistered,
                        protocol::auth_error(protocol::errc::not_registered).message);
}

void validator_service::impl::reload_blacklist() {
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

void validator_service::impl::reload_games() {
  auto book = game_book::load(*opts.games_file);
  if (!book) return spdlog::error("Games not reloaded: {}", book.error().message);
  apply_games(*book);
}

net::awaitable<void> validator_service::impl::watch_files(std::shared_ptr<impl> self) {
  for (;;) {
    self->watch_timer.expires_after(self->opts.file_poll_interval);
    if (auto [ec] = co_await self->watch_timer.async_wait(use_nothrow); ec || self->stopping)
      co_return;
    self->check_files(false);
  }
}

void validator_service::impl::check_files(bool force) {
  const auto changed = [&](const fs::path& p, std::optional<file_stamp>& last) {
    const auto now = stamp_of(p);
    if (!now) return false;
    if (!force && last && *now == *last) return false;
    last = now;
    return true;
  };
  if (!opts.chain && changed(opts.metagraph_file, metagraph_stamp)) reload_metagraph();
  if (opts.blacklist_file && changed(*opts.blacklist_file, blacklist_stamp)) reload_blacklist();
  if (opts.games_file && changed(*opts.games_file, games_stamp)) reload_games();
  if (opts.db.kind == storage::db_url::backend::bettensor) {
    // The neuron's game_data, re-read when another connection committed to the file.
    store->poll_games(game_set_reader("game_data"));
  }
}

std::function<void(std::optional<std::vector<protocol::team_game>>)>
validator_service::impl::game_set_reader(std::string_view from,
                                         std::optional<std::uint64_t> given_before) {
  return [weak = weak_from_this(), ex = watch_timer.get_executor(), from = std::string(from),
          given_before](std::optional<std::vector<protocol::team_game>> games) {
    if (!games) return;
    net::post(ex, [weak, from, given_before, games = std::move(*games)]() mutable {
      auto self = weak.lock();
      if (!self || self->stopping) return;
      auto book = game_book::make(std::move(games));
      if (!book) return spdlog::error("Games from {} not applied: {}", from, book.error().message);
      // A set equal to the one applied (an instance's own announcement) is not broadcast again.
      // game_data goes the way of a posted set (storing it is a no-op there), so it installs in
      // order with the sets given here meanwhile.
      if (given_before) return self->adopt_stored_games(*book, *given_before);
      self->apply_games(*book);
    });
  };
}

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
    if (self->cluster) self->announce_session(peer->hotkey());
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
  s.open_cluster();
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
  if (impl_->chain_sync) impl_->chain_sync->start();
  net::co_spawn(impl_->watch_timer.get_executor(), impl::watch_files(impl_),
                [](const std::exception_ptr& e) {
                  if (e) spdlog::error("file watcher stopped");
                });
  if (!impl_->admin_token.empty()) {
    net::co_spawn(impl_->admin_timer.get_executor(), impl::admin_ticker(impl_),
                  [](const std::exception_ptr& e) {
                    if (e) spdlog::error("admin page updates stopped");
                  });
  }
  spdlog::info("Validator {} listening on {}:{} (WebSocket path /ws)", impl_->identity.ss58,
               impl_->opts.server.address, port());
}

void validator_service::stop(std::function<void()> done) {
  auto self = impl_;
  self->stopping = true;
  if (self->chain_sync) self->chain_sync->stop();
  self->cluster.reset();  // joins the listener: no event arrives after this
  net::post(self->watch_timer.get_executor(), [self] { self->watch_timer.cancel(); });
  net::post(self->admin_timer.get_executor(), [self] { self->admin_timer.cancel(); });
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
