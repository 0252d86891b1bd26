#include "miner_impl.hpp"

namespace bettensor::miner {

miner_service::impl::impl(net::io_context& io, miner_options o, crypto::hotkey id, miner_events ev)
    : ioc(io),
      opts(std::move(o)),
      identity(std::move(id)),
      events(std::move(ev)),
      strand(net::make_strand(io)),
      tick_timer(strand),
      box(opts.db_path),
      directory(opts, identity.ss58) {
  if (!opts.metrics) opts.metrics = std::make_shared<metrics::registry>();
  mm = std::make_unique<metrics::miner_metrics>(opts.metrics->get());
  graph_metrics = std::make_unique<metrics::metagraph_metrics>(opts.metrics->get());
  if (!opts.websocket_enabled && !opts.http_fallback)
    throw std::runtime_error("with the WebSocket disabled the HTTP fallback must be enabled");
  if (opts.link.reconnect_base <= transport::backoff::duration::zero() ||
      opts.link.reconnect_max < opts.link.reconnect_base)
    throw std::runtime_error(
        "reconnect intervals: the base must be positive and not above the maximum");
  if (opts.api_port) {
    hooks.strand = strand;
    hooks.submit = [this](std::string body) { return api_submit(std::move(body)); };
    hooks.status = [this] { return status_json(); };
    hooks.page = [this] { return page_json(); };
    hooks.metrics = [this] { return opts.metrics->render(); };
    hooks.refused = [this](std::string_view reason) {
      (reason == "remote" ? mm->api_refused_remote
       : reason == "host" ? mm->api_refused_host
                          : mm->api_refused_origin)
          ->Increment();
    };
    hooks.storage_failed = [this](const storage::storage_error& e) {
      storage_failed("answer the local API", e);
    };
    // The hooks are reached while the service exists (an aliasing pointer keeps it alive).
    api = std::make_unique<detail::local_api>(
        ioc, opts.api_address, *opts.api_port,
        [ref = api_owner]() -> std::shared_ptr<detail::api_hooks> {
          auto self = ref->lock();
          return self ? std::shared_ptr<detail::api_hooks>(self, &self->hooks) : nullptr;
        });
  }
  if (opts.chain) {
    // Each good snapshot is installed on the strand, once start() has run.
    auto on_snapshot = [ref = api_owner, ex = strand](std::shared_ptr<const domain::metagraph> g) {
      net::post(ex, [ref, g = std::move(g)]() mutable {
        auto self = ref->lock();
        if (!self || self->stopping) return;
        self->directory.install(std::move(g));
        self->sync_peers();
      });
    };
    chain_sync = std::make_unique<chain::metagraph_sync>(strand, *opts.chain, opts.metrics->get(),
                                                         std::move(on_snapshot));
    if (auto cached = chain_sync->cached()) directory.install(std::move(cached));
  }
}

std::chrono::milliseconds miner_service::impl::tick_period() const {
  auto t = std::min(opts.file_poll_interval, opts.http_fallback_grace / 4);
  return std::clamp(t, std::chrono::milliseconds(20), std::chrono::milliseconds(1000));
}

void miner_service::impl::count_connected() {
  std::size_t n = 0;
  for (const auto& [k, p] : peers) n += p->connected ? 1 : 0;
  mm->validators_connected->Set(static_cast<double>(n));
}

net::awaitable<void> miner_service::impl::recount_outbox() {
  std::vector<std::string> hotkeys;
  for (const auto& [hotkey, p] : peers) hotkeys.push_back(hotkey);
  auto job = [hotkeys](storage::miner_store& s) {
    std::size_t pending = 0;
    for (const auto& h : hotkeys) pending += s.pending_for(h).size();
    return pending;
  };
  if (const auto pending = co_await stored("count the outbox", std::move(job)))
    mm->outbox_pending->Set(static_cast<double>(*pending));
}

void miner_service::impl::spawn(net::awaitable<void> task, std::string_view what) {
  net::co_spawn(strand, std::move(task),
                [self = shared_from_this(), what](const std::exception_ptr& e) {
                  if (!e) return;
                  try {
                    std::rethrow_exception(e);
                  } catch (const detail::outbox_closed&) {  // stopping
                  } catch (const std::exception& x) {
                    spdlog::error("Miner task '{}' ended by an exception: {}", what, x.what());
                  }
                });
}

void miner_service::impl::storage_failed(std::string_view what, const storage::storage_error& e) {
  mm->storage_errors->Increment();
  spdlog::error("Could not {}: {} (kept in memory and retried)", what, e.what());
}

net::awaitable<void> miner_service::impl::retry_storage() {
  if (!unstored_games.empty()) {
    std::vector<team_game> games;
    for (auto& [id, g] : unstored_games) games.push_back(std::move(g));
    unstored_games.clear();
    const std::size_t changed = co_await store_games(std::move(games));
    if (changed > 0) strategy_due = true;
  }
  // Once one answer fails again the rest wait for the next tick untried: one error line per
  // tick, not one per waiting answer.
  auto answers = std::move(unrecorded);
  unrecorded.clear();
  for (auto& a : answers) {
    if (!current(a.p)) continue;
    if (unrecorded.empty()) {
      co_await record(a.p, a.prediction_id, a.accepted, a.message, std::nullopt, a.via);
    } else {
      unrecorded.push_back(std::move(a));
    }
  }
  if (strategy_due && unstored_games.empty()) run_strategy();
  std::vector<std::shared_ptr<peer>> resend;
  for (const auto& [hotkey, p] : peers)
    if (p->connected && p->resend_due) resend.push_back(p);
  for (auto& p : resend) co_await resend_pending(p);
}

net::awaitable<void> miner_service::impl::ticks_loop() {
  co_await recount_outbox();
  run_strategy();
  for (;;) {
    tick_timer.expires_after(tick_period());
    if (auto [ec] = co_await tick_timer.async_wait(use_nothrow); ec || stopping) co_return;
    check_metagraph(false);
    co_await retry_storage();
    check_fallbacks();
    if (++ticks % 8 == 0) co_await recount_outbox();
  }
}

miner_service::miner_service(net::io_context& ioc, miner_options opts, crypto::hotkey identity,
                             miner_events events)
    : impl_(std::make_shared<impl>(ioc, std::move(opts), std::move(identity), std::move(events))) {}

// Closing the outbox here, not in the service's destructor: coroutines waiting for it hold the
// service, so after this every one of them resumes (with outbox_closed) and lets it go.
miner_service::~miner_service() {
  impl_->box.close();
}

void miner_service::start() {
  *impl_->api_owner = impl_;
  if (impl_->api) {
    impl_->api->start();
    spdlog::info("Miner API listening on {}:{} (POST /predictions, GET /status)",
                 impl_->opts.api_address, impl_->api->port());
  }
  net::post(impl_->strand, [self = impl_] {
    self->sync_peers();
    self->spawn(self->ticks_loop(), "tick");
  });
  if (impl_->chain_sync) impl_->chain_sync->start();
}

void miner_service::stop(std::function<void()> done) {
  net::post(impl_->strand, [self = impl_, done = std::move(done)]() mutable {
    if (self->stopping) return done();
    self->stopping = true;
    self->tick_timer.cancel();
    if (self->chain_sync) self->chain_sync->stop();
    for (auto& [hotkey, p] : self->peers)
      if (p->link) p->link->stop();
    if (self->api) self->api->stop();
    done();
  });
}

void miner_service::reload() {
  net::post(impl_->strand, [self = impl_] { self->check_metagraph(true); });
}

std::uint16_t miner_service::api_port() const {
  return impl_->api ? impl_->api->port() : 0;
}

metrics::registry& miner_service::metrics() const {
  return *impl_->opts.metrics;
}

const std::string& miner_service::hotkey() const {
  return impl_->identity.ss58;
}

void miner_service::submit(
    protocol::team_game_prediction p,
    std::function<void(protocol::result<protocol::team_game_prediction>)> done) {
  net::co_spawn(impl_->strand, impl::submitted(impl_, std::move(p), std::move(done)),
                [](const std::exception_ptr&) {});
}

void miner_service::status(std::function<void(miner_status)> done) {
  net::co_spawn(impl_->strand, impl::status_of(impl_, std::move(done)),
                [](const std::exception_ptr&) {});
}

}  // namespace bettensor::miner
