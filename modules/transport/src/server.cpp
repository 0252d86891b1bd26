#include "bettensor/transport/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/serialize.hpp>

#include <deque>
#include <vector>

#include "asio_support.hpp"
#include "http_listener_impl.hpp"
#include "ws_session.hpp"

namespace bettensor::transport {

using namespace detail;

namespace {

listener_config listener_of(const server_config& cfg) {
  listener_config l;
  l.address = cfg.address;
  l.port = cfg.port;
  l.max_http_body_bytes = cfg.max_http_body_bytes;
  l.request_timeout = cfg.handshake_timeout;
  l.close_grace = cfg.close_grace;
  l.tls_cert_file = cfg.tls_cert_file;
  l.tls_key_file = cfg.tls_key_file;
  l.trusted_proxies = cfg.trusted_proxies;
  l.server_name = "bettensor-validator";
  l.listen = cfg.listen;
  return l;
}

ws_settings ws_settings_of(const server_config& cfg) {
  ws_settings ws;
  ws.handshake_timeout = cfg.handshake_timeout;
  ws.read_message_max = cfg.max_message_bytes;
  ws.server = true;
  if (cfg.compression) {
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    pmd.msg_size_threshold = cfg.compression_threshold;
    ws.deflate = pmd;
  }
  return ws;
}

// GET /ws/health, then the application's routes.
route_table routes_of(const std::shared_ptr<ws_shared>& shared, steady::time_point started) {
  route_table t;
  t.add("GET", "/ws/health", [shared, started](const http_request&, const http_reply& reply) {
    const auto n = shared->hub.count();
    // Whole seconds, as the reference answers.
    const std::int64_t uptime =
        std::chrono::duration_cast<std::chrono::seconds>(steady::now() - started).count();
    reply({200, boost::json::serialize(boost::json::object{{"status", "online"},
                                                           {"connections", n.total},
                                                           {"active_connections", n.authenticated},
                                                           {"uptime", uptime}})});
  });
  return t.add(shared->cb.routes);
}

listener_events events_of(metrics::validator_metrics* m) {
  return {[m](bool partial) {
            (partial ? m->http_timeouts_partial : m->http_timeouts_idle)->Increment();
          },
          [m] { metrics::at(m->auth_failures, metrics::auth_failure::tls).Increment(); }};
}

}  // namespace

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(net::io_context& io, server_config cfg, crypto::hotkey id,
       std::shared_ptr<protocol::replay_guard> nonces, callbacks cbs)
      : shared(std::make_shared<ws_shared>(std::move(cfg), std::move(id), std::move(nonces),
                                           std::move(cbs))),
        started(steady::now()),
        listener(io, listener_of(shared->cfg), routes_of(shared, started), events_of(shared->m)),
        strand(net::make_strand(io)),
        heartbeat_timer(strand),
        fan_strand(net::make_strand(io)) {
    upgrade_handler up;
    up.path = "/ws";
    up.settings = ws_settings_of(shared->cfg);
    up.enabled = shared->cfg.websocket_enabled;
    up.run = [s = shared](std::unique_ptr<ws_channel> channel, http_request_message req,
                          std::string remote) {
      auto session = std::make_shared<ws_session>(s, std::move(channel), std::move(remote));
      return ws_session::run(std::move(session), std::move(req));
    };
    listener.internals().upgrade = std::move(up);
  }

  static net::awaitable<void> heartbeat_loop(std::shared_ptr<impl> self);
  static net::awaitable<void> fan_out(std::shared_ptr<impl> self);
  static net::awaitable<void> drain(std::shared_ptr<impl> self, std::function<void()> done);

  std::shared_ptr<ws_shared> shared;
  steady::time_point started;
  http_listener listener;
  net::strand<net::io_context::executor_type> strand;  // heartbeats and the stop
  net::steady_timer heartbeat_timer;

  // Broadcasts waiting to be handed to their recipients, in order; used on fan_strand only.
  struct pending_broadcast {
    std::vector<std::shared_ptr<ws_session>> targets;
    frame_ptr frame;
    steady::time_point queued_at;
  };
  net::strand<net::io_context::executor_type> fan_strand;
  std::deque<pending_broadcast> broadcasts;
  bool fanning_out = false;
  // Recipients handed a frame before the fan-out yields to other work: a 20 KB update to
  // thousands of miners must not queue tens of milliseconds of writes ahead of confirmations.
  static constexpr std::size_t fan_out_chunk = 8;
};

net::awaitable<void> server::impl::heartbeat_loop(std::shared_ptr<impl> self) {
  auto& shared = *self->shared;
  for (;;) {
    self->heartbeat_timer.expires_after(shared.cfg.heartbeat_interval);
    if (auto [ec] = co_await self->heartbeat_timer.async_wait(use_nothrow); ec || shared.stopping) {
      co_return;
    }
    // One signed heartbeat, shared by every connection.
    const auto frame = shared.make_frame(protocol::message_type::heartbeat, boost::json::object());
    for (auto& s : shared.hub.authenticated_sessions()) s->send(frame);
  }
}

// Waits (bounded by close_grace plus a little) for every connection to finish its close.
net::awaitable<void> server::impl::drain(std::shared_ptr<impl> self, std::function<void()> done) {
  const auto deadline = steady::now() + self->shared->cfg.close_grace + std::chrono::seconds(1);
  net::steady_timer poll(self->strand);
  while (steady::now() < deadline && self->shared->hub.count().total > 0) {
    poll.expires_after(std::chrono::milliseconds(10));
    co_await poll.async_wait(use_nothrow);
  }
  done();
}

// Hands each waiting broadcast to its recipients in order, yielding to the I/O threads' other
// work every fan_out_chunk recipients.
net::awaitable<void> server::impl::fan_out(std::shared_ptr<impl> self) {
  while (!self->broadcasts.empty()) {
    pending_broadcast b = std::move(self->broadcasts.front());
    self->broadcasts.pop_front();
    for (std::size_t i = 0; i < b.targets.size(); ++i) {
      b.targets[i]->send(b.frame);
      if ((i + 1) % fan_out_chunk == 0) co_await net::post(self->fan_strand, net::use_awaitable);
    }
    self->shared->m->broadcast_seconds->Observe(
        std::chrono::duration<double>(steady::now() - b.queued_at).count());
  }
  self->fanning_out = false;
}

server::server(net::io_context& ioc, server_config cfg, crypto::hotkey identity,
               std::shared_ptr<protocol::replay_guard> nonces, callbacks cb)
    : impl_(std::make_shared<impl>(ioc, std::move(cfg), std::move(identity), std::move(nonces),
                                   std::move(cb))) {}

server::~server() = default;

void server::start() {
  if (!impl_->shared->cfg.listen) return;
  impl_->listener.start();
  net::co_spawn(impl_->strand, impl::heartbeat_loop(impl_),
                [](const std::exception_ptr& e) { log_failure("heartbeat", e); });
}

void server::stop(std::function<void()> done) {
  auto self = impl_;
  net::post(self->strand, [self, done = std::move(done)]() mutable {
    self->shared->stopping = true;
    self->listener.stop();
    self->heartbeat_timer.cancel();
    for (auto& s : self->shared->hub.all_sessions()) s->close(protocol::close_reason::shutdown, {});
    net::co_spawn(self->strand, impl::drain(self, std::move(done)),
                  [](const std::exception_ptr& e) { log_failure("shutdown", e); });
  });
}

void check_tls(const server_config& cfg) {
  check_server_tls(cfg.tls_cert_file, cfg.tls_key_file);
}

std::uint16_t server::local_port() const {
  return impl_->listener.local_port();
}

frame_ptr server::make_frame(std::string_view type, boost::json::value data) const {
  return impl_->shared->make_frame(type, std::move(data));
}

frame_ptr server::make_frame_from_text(std::string_view type, std::string_view data_text) const {
  return impl_->shared->make_frame_from_text(type, data_text);
}

std::size_t server::broadcast(const frame_ptr& frame) {
  auto targets = impl_->shared->hub.authenticated_sessions();
  const std::size_t n = targets.size();
  auto self = impl_;
  const auto queued_at = steady::now();
  net::post(self->fan_strand, [self, targets = std::move(targets), frame, queued_at]() mutable {
    self->broadcasts.push_back({std::move(targets), frame, queued_at});
    if (self->fanning_out) return;
    self->fanning_out = true;
    net::co_spawn(self->fan_strand, impl::fan_out(self),
                  [](const std::exception_ptr& e) { log_failure("broadcast", e); });
  });
  return n;
}

std::vector<session_info> server::sessions() const {
  return impl_->shared->hub.snapshot();
}

void server::disconnect_if(const std::function<bool(const std::string&)>& pred,
                           protocol::close_reason why, const std::string& text) {
  for (const auto& s : impl_->shared->hub.authenticated_sessions()) {
    if (pred(s->hotkey())) s->close(why, text);
  }
}

}  // namespace bettensor::transport
