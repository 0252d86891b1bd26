#include "bettensor/transport/validator_link.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <random>

#include "asio_support.hpp"
#include "bettensor/crypto/ss58.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/replay_guard.hpp"
#include "bettensor/protocol/signing.hpp"
#include "bettensor/transport/session_policy.hpp"
#include "frame_writer.hpp"
#include "tls_client.hpp"
#include "ws_channel.hpp"

namespace bettensor::transport {

using namespace detail;

namespace {

// One connection attempt's state; the coroutines of an attempt share it and stop when `dead`.
struct connection {
  connection(const net::any_io_executor& ex, const link_config& cfg)
      : stream(ex),
        heartbeat(ex),
        watchdog(ex),
        writer(ex, cfg.send_queue_frames),
        policy(limits_of(cfg), steady::now()) {}
  beast::tcp_stream stream;        // until the WebSocket (plain or TLS) takes it over
  std::unique_ptr<ws_channel> ws;  // after the TCP connect
  net::steady_timer heartbeat;
  net::steady_timer watchdog;
  frame_writer writer;
  session_policy policy;  // restarted when the WebSocket handshake completes
  bool welcomed = false;
  bool dead = false;

  // The validator must welcome us within connect_timeout and then never fall silent for
  // silence_timeout; it has no rate limit or bad-frame budget (bad frames are dropped).
  static session_limits limits_of(const link_config& cfg) {
    session_limits l;
    l.auth_timeout = cfg.connect_timeout;
    l.silence_timeout = cfg.silence_timeout;
    return l;
  }

  void end() {
    dead = true;
    beast::error_code ignored;
    (ws ? ws->tcp() : stream).socket().close(ignored);
    writer.stop();
    heartbeat.cancel();
    watchdog.cancel();
  }
};

}  // namespace

struct validator_link::impl : std::enable_shared_from_this<validator_link::impl> {
  impl(const net::any_io_executor& ex, link_config c, crypto::hotkey m, callbacks cbs)
      : strand(net::make_strand(ex)),
        cfg(std::move(c)),
        miner(std::move(m)),
        cb(std::move(cbs)),
        policy(cfg.reconnect_base, cfg.reconnect_max),
        retry_timer(strand),
        rng(std::random_device{}()) {
    const auto address = crypto::ss58_decode(cfg.validator_ss58);
    if (!address)
      throw std::invalid_argument("validator hotkey " + cfg.validator_ss58 + ": " +
                                  address.error().message());
    validator_key = address->key;
    if (cfg.tls) tls.emplace(make_client_tls(cfg.tls_ca_file));
    ws.handshake_timeout = cfg.connect_timeout;
    ws.read_message_max = cfg.max_message_bytes;
    if (cfg.compression) {
      websocket::permessage_deflate pmd;
      pmd.client_enable = true;
      pmd.msg_size_threshold = cfg.compression_threshold;
      ws.deflate = pmd;
    }
  }

  std::string label() const {
    return cfg.validator_ss58 + " at " + (cfg.tls ? "wss://" : "ws://") + cfg.host + ":" +
           std::to_string(cfg.port);
  }

  static net::awaitable<void> keep_connected(std::shared_ptr<impl> self) {
    for (;;) {
      if (self->stopping) co_return;
      const bool authenticated = co_await self->run_connection();
      if (self->stopping) co_return;
      const unsigned failures = authenticated ? 0 : self->failures.load() + 1;
      self->failures = failures;
      const auto delay = self->policy.delay(failures, self->rng);
      {
        std::lock_guard lock(self->mutex);
        self->delays.push_back(delay);
      }
      spdlog::info("Reconnecting to validator {} in {} ms (consecutive failures: {})",
                   self->label(), delay.count(), failures);
      self->retry_timer.expires_after(delay);
      if (auto [ec] = co_await self->retry_timer.async_wait(use_nothrow); ec || self->stopping)
        co_return;
    }
  }

  // One connection, from connect to its end. True if the validator welcomed us.
  net::awaitable<bool> run_connection() {
    auto c = std::make_shared<connection>(strand, cfg);
    current = c;
    tcp::resolver resolver(strand);
    auto& stream = c->stream;
    stream.expires_after(cfg.connect_timeout);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(cfg.host, std::to_string(cfg.port), use_nothrow);
    if (rec) co_return finish(c, "cannot resolve: " + rec.message());
    auto [cec, ep] = co_await stream.async_connect(endpoints, use_nothrow);
    if (cec) co_return finish(c, "cannot connect: " + cec.message());
    beast::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    if (tls) {
      tls_stream secure(std::move(stream), *tls);
      prepare_client_tls(secure, cfg.host);
      if (auto [tec] = co_await secure.async_handshake(ssl::stream_base::client, use_nothrow);
          tec) {
        const std::string why = tls_failure(secure, tec, cfg.tls_ca_file);
        spdlog::warn("Refusing validator {}: {}", label(), why);
        co_return finish(c, why);
      }
      c->ws = make_ws_channel(std::move(secure), ws);
    } else {
      c->ws = make_ws_channel(std::move(stream), ws);
    }
    auto [hec] = co_await c->ws->handshake(cfg.host + ":" + std::to_string(cfg.port), cfg.path);
    if (hec) co_return finish(c, "WebSocket handshake failed: " + hec.message());
    c->ws->tcp().expires_never();

    c->policy = session_policy(connection::limits_of(cfg), steady::now());
    auto self = shared_from_this();
    net::co_spawn(strand, watch(self, c),
                  [](const std::exception_ptr& e) { log_failure("validator link watchdog", e); });
    const std::string auth = protocol::serialize(protocol::make_auth_message(miner));
    if (auto [wec, n] = co_await c->ws->write(net::buffer(auth)); wec) {
      co_return finish(c, "cannot send authentication: " + wec.message());
    }

    beast::flat_buffer buffer;
    for (;;) {
      buffer.clear();
      auto [ec, n] = co_await c->ws->read(buffer);
      if (ec) {
        const auto& reason = c->ws->reason();
        co_return finish(c, reason.code != 0
                                ? "closed by the validator (" + std::to_string(reason.code) + " " +
                                      std::string(reason.reason.data(), reason.reason.size()) + ")"
                                : ec.message());
      }
      c->policy.on_frame(steady::now());
      const std::string_view text(static_cast<const char*>(buffer.cdata().data()), buffer.size());
      spdlog::trace("<- validator {}: {}", cfg.validator_ss58, text);
      if (!c->welcomed) {
        if (const auto failure = handle_first_frame(c, text))
          co_return finish(c, "authentication failed: " + *failure);
        net::co_spawn(strand, write_loop(self, c),
                      [](const std::exception_ptr& e) { log_failure("validator link writer", e); });
        net::co_spawn(strand, heartbeat_loop(self, c), [](const std::exception_ptr& e) {
          log_failure("validator link heartbeat", e);
        });
        continue;
      }
      handle_frame(c, text);
    }
  }

  // The validator answers the handshake with a signed welcome, or {"status":"error"} + close.
  // Returns why the connection cannot go on, or nullopt once welcomed.
  std::optional<std::string> handle_first_frame(const std::shared_ptr<connection>& c,
                                                std::string_view text) {
    auto doc = protocol::parse_json(text);
    if (auto refusal = doc ? protocol::parse_refusal(*doc) : std::nullopt) {
      spdlog::warn("Validator {} refused the connection: {}", label(), *refusal);
      notify(cb.on_refused, *refusal);
      return "refused: " + *refusal;
    }
    auto e = open(text);  // logs why a frame is dropped
    if (!e) return e.error().message;
    if (e->type != protocol::message_type::welcome) {
      auto why = "a '" + e->type + "' frame instead of the welcome";
      spdlog::warn("Validator {} sent {}", label(), why);
      return why;
    }
    const auto w = protocol::parse_welcome(e->data);
    if (!w) {
      spdlog::warn("Validator {} sent an unreadable welcome: {}", label(), w.error().message);
      return "unreadable welcome: " + w.error().message;
    }
    c->welcomed = true;
    c->policy.on_authenticated(steady::now());
    c->watchdog.cancel_one();  // re-arm for the silence deadline
    connected_flag = true;
    failures = 0;
    spdlog::info("WebSocket connection established with validator {} (our UID: {})", label(),
                 w->uid ? std::to_string(*w->uid) : std::string("not in its welcome"));
    notify(cb.on_connected, w->uid);
    return std::nullopt;
  }

  protocol::result<protocol::envelope> open(std::string_view text) {
    const protocol::frame_expectations expect{cfg.validator_ss58, &validator_key,
                                              protocol::now_utc(), cfg.timestamp_window, &nonces};
    auto e = protocol::open_envelope(text, expect);
    if (!e) {
      spdlog::warn("Dropped a frame from validator {}: {}", label(), e.error().message);
      notify(cb.on_dropped, e.error().message);
    }
    return e;
  }

  void handle_frame(const std::shared_ptr<connection>& c, std::string_view text) {
    auto e = open(text);
    if (!e) return;
    if (e->type == protocol::message_type::heartbeat) {
      enqueue(c, std::make_shared<const frame>(frame{
                     protocol::serialize(protocol::sign_envelope(
                         miner, protocol::message_type::heartbeat_response, boost::json::object())),
                     protocol::frame_kind::heartbeat_response}));
      return;
    }
    notify(cb.on_message, *e);
  }

  // Queues a frame on the current connection; `queued` counts it until it is written or the
  // connection ends.
  void enqueue(const std::shared_ptr<connection>& c, frame_ptr f) {
    if (c->dead) return;
    if (c->writer.push(std::move(f)) == frame_writer::pushed::queued) ++queued;
  }

  static net::awaitable<void> write_loop(std::shared_ptr<impl> self,
                                         std::shared_ptr<connection> c) {
    co_await c->writer.run(
        *c->ws, [&self] { --self->queued; },
        [&self](std::span<const frame_ptr> frames, double /*cpu*/) {
          for (const auto& f : frames)
            spdlog::trace("-> validator {}: {}", self->cfg.validator_ss58, f->text);
        });
    c->end();
  }

  static net::awaitable<void> heartbeat_loop(std::shared_ptr<impl> self,
                                             std::shared_ptr<connection> c) {
    for (;;) {
      c->heartbeat.expires_after(self->cfg.heartbeat_interval);
      co_await c->heartbeat.async_wait(use_nothrow);
      if (c->dead) co_return;
      self->enqueue(
          c, std::make_shared<const frame>(
                 frame{protocol::serialize(protocol::sign_envelope(
                           self->miner, protocol::message_type::heartbeat, boost::json::object())),
                       protocol::frame_kind::heartbeat}));
    }
  }

  // Ends a connection that stays silent: connect_timeout before the welcome, silence_timeout
  // after (the session policy's deadlines).
  static net::awaitable<void> watch(std::shared_ptr<impl> self, std::shared_ptr<connection> c) {
    for (;;) {
      if (c->dead) co_return;
      if (c->policy.on_deadline(steady::now()).what != session_action::kind::proceed) {
        const auto limit = c->welcomed ? self->cfg.silence_timeout : self->cfg.connect_timeout;
        spdlog::warn("Validator {} silent for {} s: reconnecting", self->label(), limit.count());
        c->end();
        co_return;
      }
      c->watchdog.expires_at(c->policy.next_deadline());
      co_await c->watchdog.async_wait(use_nothrow);
    }
  }

  // Runs a callback unless stop() has returned: stop() takes the same lock after closing, so it
  // waits for a callback in progress and none starts after it (recursive: a callback may stop).
  template <class F, class... Args>
  void notify(const F& f, const Args&... args) {
    std::lock_guard lock(callback_mutex);
    if (!callbacks_closed && f) f(args...);
  }

  bool finish(const std::shared_ptr<connection>& c, const std::string& why) {
    const bool was_welcomed = c->welcomed;
    c->end();
    queued -= c->writer.depth();  // dropped with the connection: re-sent after the next connect
    if (current == c) current.reset();
    connected_flag = false;
    if (!stopping) {
      spdlog::info("Connection to validator {} ended: {}", label(), why);
      notify(cb.on_disconnected, why);
    }
    return was_welcomed;
  }

  net::strand<net::any_io_executor> strand;
  link_config cfg;
  std::optional<ssl::context> tls;  // wss://
  ws_settings ws;
  crypto::hotkey miner;
  callbacks cb;
  backoff policy;
  crypto::public_key validator_key{};
  protocol::replay_guard nonces;  // kept across reconnects: a replayed frame stays refused
  net::steady_timer retry_timer;
  std::mt19937_64 rng;
  std::shared_ptr<connection> current;  // strand only
  std::atomic<bool> stopping{false};
  std::atomic<bool> connected_flag{false};
  std::atomic<unsigned> failures{0};
  std::atomic<std::size_t> queued{0};  // frames waiting in the current connection's writer
  std::recursive_mutex callback_mutex;
  bool callbacks_closed = false;  // guarded by callback_mutex
  mutable std::mutex mutex;       // guards delays
  std::vector<backoff::duration> delays;
};

void check_link_tls(const link_config& cfg) {
  if (cfg.tls) make_client_tls(cfg.tls_ca_file);
}

validator_link::validator_link(const net::any_io_executor& ex, link_config cfg,
                               crypto::hotkey miner, callbacks cb)
    : impl_(std::make_shared<impl>(ex, std::move(cfg), std::move(miner), std::move(cb))) {}

validator_link::~validator_link() {
  try {
    stop();
  } catch (const std::exception& e) {  // posting can only fail for lack of memory
    spdlog::error("validator link: stop failed: {}", e.what());
  }
}

void validator_link::start() {
  net::co_spawn(impl_->strand, impl::keep_connected(impl_), [](const std::exception_ptr& e) {
    log_failure("validator link reconnect loop", e);
  });
}

void validator_link::stop() {
  auto self = impl_;
  {
    std::lock_guard lock(self->callback_mutex);
    self->callbacks_closed = true;
  }
  if (self->stopping.exchange(true)) return;
  net::post(self->strand, [self] {
    self->retry_timer.cancel();
    if (self->current) self->current->end();
  });
}

bool validator_link::send(frame_ptr f) {
  auto self = impl_;
  if (!self->connected_flag) return false;
  if (self->queued.load() >= self->cfg.send_queue_frames) {
    spdlog::warn("Validator {} is not reading: {} frames queued; holding back", self->label(),
                 self->queued.load());
    return false;
  }
  net::post(self->strand, [self, f = std::move(f)]() mutable {
    if (self->current && self->current->welcomed) self->enqueue(self->current, std::move(f));
  });
  return true;
}

bool validator_link::connected() const {
  return impl_->connected_flag;
}
unsigned validator_link::consecutive_failures() const {
  return impl_->failures;
}

std::vector<backoff::duration> validator_link::reconnect_delays() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->delays;
}

}  // namespace bettensor::transport
