#include "bettensor/transport/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "asio_support.hpp"
#include "bettensor/protocol/json.hpp"
#include "client_address.hpp"
#include "frame_lanes.hpp"
#include "ws_channel.hpp"

namespace bettensor::transport {

using namespace detail;
namespace http = beast::http;
namespace ssl = net::ssl;

namespace {

// A close reason is limited to 123 bytes by the protocol.
std::string fit_reason(std::string reason) {
  if (reason.size() > 123) reason.resize(123);
  return reason;
}

std::string json_error_body(std::string_view message) {
  return boost::json::serialize(boost::json::object{{"status", "error"}, {"message", message}});
}

// The server's TLS context from PEM files; names the file and OpenSSL's reason on failure.
ssl::context load_tls(const server_config& cfg) {
  if (cfg.tls_cert_file.empty() || cfg.tls_key_file.empty())
    throw std::runtime_error("TLS needs both a certificate and a key file");
  ssl::context ctx(ssl::context::tls_server);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
  beast::error_code ec;
  ctx.use_certificate_chain_file(cfg.tls_cert_file, ec);
  if (ec)
    throw std::runtime_error("cannot use TLS certificate " + cfg.tls_cert_file + ": " +
                             ec.message());
  ctx.use_private_key_file(cfg.tls_key_file, ssl::context::pem, ec);
  if (ec)
    throw std::runtime_error("cannot use TLS key " + cfg.tls_key_file + " with certificate " +
                             cfg.tls_cert_file + ": " + ec.message());
  if (::SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    throw std::runtime_error("TLS key " + cfg.tls_key_file + " does not match certificate " +
                             cfg.tls_cert_file);
  return ctx;
}

}  // namespace

class ws_session;

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(net::io_context& io, server_config c, crypto::hotkey id,
       std::shared_ptr<protocol::replay_guard> n, callbacks cbs)
      : ioc(io),
        cfg(std::move(c)),
        identity(std::move(id)),
        nonces(std::move(n)),
        cb(std::move(cbs)),
        acceptor(net::make_strand(io)),
        heartbeat_timer(acceptor.get_executor()),
        started(steady::now()),
        fan_strand(net::make_strand(io)) {
    if (!cfg.metrics) {
      own_registry = std::make_shared<metrics::registry>();
      cfg.metrics = std::make_shared<metrics::validator_metrics>(own_registry->get());
    }
    m = cfg.metrics.get();
    if (!cfg.tls_cert_file.empty() || !cfg.tls_key_file.empty()) tls.emplace(load_tls(cfg));
    for (const auto& text : cfg.trusted_proxies) {
      beast::error_code ec;
      trusted.push_back(net::ip::make_address(text, ec));
      if (ec) throw std::runtime_error("trusted proxy '" + text + "' is not an IP address");
    }
    ws.handshake_timeout = cfg.handshake_timeout;
    ws.read_message_max = cfg.max_message_bytes;
    ws.server = true;
    if (cfg.compression) {
      websocket::permessage_deflate pmd;
      pmd.server_enable = true;
      pmd.msg_size_threshold = cfg.compression_threshold;
      ws.deflate = pmd;
    }
    if (!cfg.listen) return;
    const tcp::endpoint ep(net::ip::make_address(cfg.address), cfg.port);
    acceptor.open(ep.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(net::socket_base::max_listen_connections);
  }

  net::awaitable<void> accept_loop(std::shared_ptr<impl> self);
  net::awaitable<void> heartbeat_loop(std::shared_ptr<impl> self);
  static net::awaitable<void> fan_out(std::shared_ptr<impl> self);
  net::awaitable<void> run_connection(std::shared_ptr<impl> self, tcp::socket socket);
  template <class Stream>
  net::awaitable<void> serve(std::shared_ptr<impl> self, Stream stream, tcp::endpoint remote,
                             std::string remote_text);
  net::awaitable<http_response> route(http::request<http::string_body>& req,
                                      const net::ip::address& client,
                                      const net::any_io_executor& ex);

  net::ip::address client_of(const tcp::endpoint& peer, std::string_view forwarded) const {
    return client_behind(peer.address(), forwarded, trusted);
  }

  // Hub: every WebSocket session, and the authenticated ones by hotkey.
  std::shared_ptr<ws_session> join(const std::shared_ptr<ws_session>& s);
  void leave(ws_session* s);
  bool admit(const std::shared_ptr<ws_session>& s);
  std::vector<std::shared_ptr<ws_session>> authenticated_sessions() const;
  std::vector<std::shared_ptr<ws_session>> all_sessions() const;

  frame_ptr make_frame_shared(std::string_view type, boost::json::value data) const {
    return std::make_shared<const frame>(
        frame{protocol::serialize(protocol::sign_envelope(identity, type, std::move(data))),
              protocol::kind_of_type(type)});
  }

  net::io_context& ioc;
  server_config cfg;
  std::optional<ssl::context> tls;  // wss:// and https:// when set
  ws_settings ws;
  std::vector<net::ip::address> trusted;            // proxies whose X-Forwarded-For is believed
  std::shared_ptr<metrics::registry> own_registry;  // only without cfg.metrics
  metrics::validator_metrics* m = nullptr;
  crypto::hotkey identity;
  std::shared_ptr<protocol::replay_guard> nonces;
  callbacks cb;
  tcp::acceptor acceptor;
  net::steady_timer heartbeat_timer;
  steady::time_point started;
  std::atomic<bool> stopping{false};

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

  mutable std::mutex hub_mutex;
  std::unordered_map<ws_session*, std::weak_ptr<ws_session>> sessions;
  std::unordered_map<std::string, std::weak_ptr<ws_session>> by_hotkey;
  std::size_t authenticated = 0;
};

// One WebSocket connection. Everything below runs on the connection's strand (the socket's
// executor); other threads reach it through post().
class ws_session final : public peer_connection, public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(std::shared_ptr<server::impl> srv, std::unique_ptr<ws_channel> ws, std::string remote)
      : srv_(std::move(srv)),
        ws_(std::move(ws)),
        wake_(ws_->executor()),
        watchdog_(ws_->executor()),
        remote_(std::move(remote)),
        opened_(steady::now()),
        last_activity_(opened_),
        tokens_(srv_->cfg.rate_limit_burst),
        last_refill_(opened_) {}

  const std::string& hotkey() const override { return hotkey_; }
  std::int64_t uid() const override { return uid_; }
  const std::string& remote_address() const override { return remote_; }

  void send(frame_ptr frame) override {
    net::post(ws_->executor(), [self = shared_from_this(), frame = std::move(frame)]() mutable {
      self->enqueue(std::move(frame));
    });
  }

  void close(protocol::close_reason why, std::string text) override {
    net::post(ws_->executor(), [self = shared_from_this(), why, text = std::move(text)]() mutable {
      self->request_close(why, std::move(text));
    });
  }

  bool is_authenticated() const { return authenticated_; }

  static net::awaitable<void> run(std::shared_ptr<ws_session> self,
                                  http::request<http::string_body> req);

 private:
  net::awaitable<void> read_loop();
  static net::awaitable<void> write_loop(std::shared_ptr<ws_session> self);
  static net::awaitable<void> watch(std::shared_ptr<ws_session> self);

  void enqueue(frame_ptr frame) {
    if (close_ || dead_) return;
    if (queued_ >= srv_->cfg.send_queue_frames) {
      spdlog::warn("Closing slow consumer {} (UID: {}): {} frames queued", hotkey_, uid_, queued_);
      srv_->m->slow_consumer_drops->Increment();
      request_close(protocol::close_reason::slow_consumer);
      return;
    }
    queue_.push(std::move(frame));
    ++queued_;
    srv_->m->send_queue_frames->Increment();
    wake_.cancel_one();
  }

  // Sends a close frame with `why`'s code and text (or `text`, when given) after the urgent
  // frames queued; the first reason given is the one the connection is counted under.
  void request_close(protocol::close_reason why, std::string text = {}) {
    if (close_ || dead_) return;
    if (!end_reason_) end_reason_ = why;
    websocket::close_reason close_frame;
    close_frame.code = protocol::close_code(why);
    close_frame.reason =
        fit_reason(text.empty() ? std::string(protocol::text(why)) : std::move(text));
    close_ = std::move(close_frame);
    closing_since_ = steady::now();
    wake_.cancel_one();
    watchdog_.cancel_one();  // re-arm for the close grace period
  }

  // Answers a handshake refusal: a plain {"status":"error"} frame, then close 1008.
  void refuse(const protocol::error& refusal) {
    spdlog::info("Refused connection from {}: {}", remote_, refusal.message);
    metrics::at(srv_->m->auth_failures, metrics::auth_failure_of(refusal.code)).Increment();
    enqueue(std::make_shared<const frame>(
        frame{json_error_body(refusal.message), protocol::frame_kind::refusal}));
    request_close(protocol::close_reason::auth_failed, refusal.message);
  }

  void reply_error(const std::string& message) {
    enqueue(srv_->make_frame_shared(protocol::message_type::error,
                                    protocol::to_json(protocol::error_data{message})));
  }

  bool take_token() {
    const auto now = steady::now();
    const double elapsed = std::chrono::duration<double>(now - last_refill_).count();
    last_refill_ = now;
    tokens_ =
        std::min(srv_->cfg.rate_limit_burst, tokens_ + elapsed * srv_->cfg.rate_limit_per_second);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

  void authenticate(std::string_view text);
  void handle_frame(std::string_view text);

  std::shared_ptr<server::impl> srv_;
  std::unique_ptr<ws_channel> ws_;  // plain or TLS; set up by make_ws_channel
  net::steady_timer wake_;
  net::steady_timer watchdog_;
  std::string remote_;
  steady::time_point opened_;
  steady::time_point last_activity_;
  steady::time_point closing_since_;
  double tokens_;
  steady::time_point last_refill_;
  std::size_t invalid_frames_ = 0;

  frame_lanes queue_;
  std::size_t queued_ = 0;
  std::optional<websocket::close_reason> close_;
  std::optional<protocol::close_reason> end_reason_;  // the first reason this side gave
  bool dead_ = false;  // the read side has ended; the writer and watchdog stop

  bool authenticated_ = false;
  std::string hotkey_;
  crypto::public_key key_{};
  std::int64_t uid_ = -1;

  friend struct server::impl;
};

net::awaitable<void> ws_session::run(std::shared_ptr<ws_session> self,
                                     http::request<http::string_body> req) {
  auto& ws = *self->ws_;
  ws.tcp().expires_never();  // the websocket timeouts take over
  if (auto [ec] = co_await ws.accept(req); ec) {
    spdlog::debug("WebSocket upgrade from {} failed: {}", self->remote_, ec.message());
    co_return;
  }
  req = {};  // this frame lives as long as the connection: do not keep the headers
  const bool admitted = self->srv_->admit(self);
  auto* m = self->srv_->m;
  m->connections_opened->Increment();
  m->connections_open->Increment();
  auto ex = ws.executor();
  net::co_spawn(ex, write_loop(self),
                [](const std::exception_ptr& e) { log_failure("writer", e); });
  net::co_spawn(ex, watch(self), [](const std::exception_ptr& e) { log_failure("watchdog", e); });
  if (!admitted) {
    spdlog::warn("Refused connection from {}: max connections reached", self->remote_);
    self->request_close(protocol::close_reason::full);
  } else if (self->srv_->stopping) {
    self->request_close(protocol::close_reason::shutdown);
  }
  co_await self->read_loop();
  // The read side has seen the close handshake (or an error). A close of ours still waiting for
  // the peer's close frame would wait in vain (the read consumed it), so end the socket here.
  beast::error_code ignored;
  ws.tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  ws.tcp().socket().close(ignored);
  self->dead_ = true;
  self->wake_.cancel();
  self->watchdog_.cancel();
  self->srv_->leave(self.get());
  m->connections_open->Decrement();
  m->send_queue_frames->Decrement(static_cast<double>(self->queued_));
  metrics::at(m->connections_closed,
              self->end_reason_.value_or(protocol::close_reason::peer_closed))
      .Increment();
  if (self->authenticated_) {
    spdlog::info("WebSocket connection closed with miner {} (UID: {})", self->hotkey_, self->uid_);
  }
}

net::awaitable<void> ws_session::read_loop() {
  beast::flat_buffer buffer;
  for (;;) {
    buffer.clear();
    auto [ec, n] = co_await ws_->read(buffer);
    if (ec) {
      if (ec == websocket::error::message_too_big) {
        spdlog::warn("Closed {} ({}): frame over {} bytes", remote_, hotkey_,
                     srv_->cfg.max_message_bytes);
        if (!end_reason_) end_reason_ = protocol::close_reason::oversized;
      } else if (ec != websocket::error::closed && ec != net::error::operation_aborted &&
                 ec != net::error::eof && ec != beast::error::timeout) {
        spdlog::debug("Read from {} ended: {}", remote_, ec.message());
      }
      co_return;
    }
    if (close_) continue;  // closing: drain what the peer still sends until its close frame
    last_activity_ = steady::now();
    srv_->m->bytes_in->Increment(static_cast<double>(n));
    const std::string_view text(static_cast<const char*>(buffer.cdata().data()), buffer.size());
    spdlog::trace("<- {} {}", remote_, text);
    if (!authenticated_) {
      authenticate(text);
      continue;
    }
    if (!take_token()) {
      spdlog::warn("Closing {} (UID: {}): message rate limit exceeded", hotkey_, uid_);
      request_close(protocol::close_reason::rate_limited);
      continue;
    }
    handle_frame(text);
  }
}

void ws_session::authenticate(std::string_view text) {
  metrics::at(srv_->m->messages_in, protocol::frame_kind::auth).Increment();
  auto ok =
      check_handshake(text, protocol::now_utc(), srv_->cfg.timestamp_window, srv_->cb.authorize);
  if (!ok) return refuse(ok.error());
  authenticated_ = true;
  hotkey_ = ok->peer.hotkey;
  key_ = ok->peer.key;
  uid_ = ok->decision.uid;
  watchdog_.cancel_one();  // re-arm: from now on the deadline is the heartbeat timeout
  if (auto old = srv_->join(shared_from_this())) {
    spdlog::info("Miner {} reconnected: replacing its previous connection", hotkey_);
    old->close(protocol::close_reason::replaced, {});
  }
  spdlog::info("WebSocket connection established with miner {} (UID: {})", hotkey_, uid_);
  enqueue(srv_->make_frame_shared(
      protocol::message_type::welcome,
      protocol::to_json(protocol::welcome{"Connection established", "success", uid_})));
  if (srv_->cb.on_authenticated) srv_->cb.on_authenticated(shared_from_this());
}

void ws_session::handle_frame(std::string_view text) {
  if (!ws_->got_text()) {
    reply_error("Invalid message format: binary frames are not supported");
  } else {
    const protocol::frame_expectations expect{hotkey_, &key_, protocol::now_utc(),
                                              srv_->cfg.timestamp_window, srv_->nonces.get()};
    auto env = protocol::open_envelope(text, expect);
    if (env) {
      metrics::at(srv_->m->messages_in, protocol::kind_of_type(env->type)).Increment();
      srv_->cb.on_message(shared_from_this(), std::move(*env));
      return;
    }
    srv_->m->invalid_frames->Increment();
    spdlog::info("Invalid frame from miner {} (UID: {}): {}", hotkey_, uid_, env.error().message);
    reply_error(env.error().message);
  }
  if (++invalid_frames_ > srv_->cfg.max_invalid_frames) {
    spdlog::warn("Closing {} (UID: {}): too many invalid messages", hotkey_, uid_);
    request_close(protocol::close_reason::invalid_frames);
  }
}

// The only caller of write and close on this stream.
net::awaitable<void> ws_session::write_loop(std::shared_ptr<ws_session> self) {
  auto& q = self->queue_;
  for (;;) {
    if (self->dead_) co_return;
    if (self->close_ && q.empty(priority::urgent)) {
      auto [ec] = co_await self->ws_->close(*self->close_);
      if (ec) self->ws_->tcp().socket().close();
      co_return;
    }
    frame_ptr next = q.pop();
    if (!next) {
      self->wake_.expires_at(steady::time_point::max());
      co_await self->wake_.async_wait(use_nothrow);
      continue;
    }
    --self->queued_;
    auto* m = self->srv_->m;
    m->send_queue_frames->Decrement();
    spdlog::trace("-> {} {}", self->remote_, next->text);
    auto [ec, n] = co_await self->ws_->write(net::buffer(next->text));
    if (ec) {
      self->ws_->tcp().socket().close();
      co_return;
    }
    metrics::at(m->messages_out, next->kind).Increment();
    m->bytes_out->Increment(static_cast<double>(n));
  }
}

// Ends a connection that does not authenticate in time, goes silent for connection_timeout, or
// does not finish a requested close within close_grace.
net::awaitable<void> ws_session::watch(std::shared_ptr<ws_session> self) {
  const auto& cfg = self->srv_->cfg;
  for (;;) {
    if (self->dead_) co_return;
    const auto now = steady::now();
    steady::time_point deadline;
    if (self->close_) {
      deadline = self->closing_since_ + cfg.close_grace;
      if (now >= deadline) {
        self->ws_->tcp().socket().close();
        co_return;
      }
    } else if (!self->authenticated_) {
      deadline = self->opened_ + cfg.handshake_timeout;
      if (now >= deadline) {
        spdlog::info("Closing {}: no authentication within {}s", self->remote_,
                     cfg.handshake_timeout.count());
        metrics::at(self->srv_->m->auth_failures, metrics::auth_failure::timeout).Increment();
        self->request_close(protocol::close_reason::auth_timeout);
        continue;
      }
    } else {
      deadline = self->last_activity_ + cfg.connection_timeout;
      if (now >= deadline) {
        spdlog::info("Closing miner {} (UID: {}): heartbeat timeout", self->hotkey_, self->uid_);
        self->request_close(protocol::close_reason::heartbeat_timeout);
        continue;
      }
    }
    self->watchdog_.expires_at(deadline);
    co_await self->watchdog_.async_wait(use_nothrow);  // cancelled to re-evaluate early
  }
}

bool server::impl::admit(const std::shared_ptr<ws_session>& s) {
  std::lock_guard lock(hub_mutex);
  if (sessions.size() >= cfg.max_connections) return false;
  sessions.emplace(s.get(), s);
  return true;
}

std::shared_ptr<ws_session> server::impl::join(const std::shared_ptr<ws_session>& s) {
  std::lock_guard lock(hub_mutex);
  ++authenticated;
  auto& slot = by_hotkey[s->hotkey()];
  auto old = slot.lock();
  slot = s;
  return old;
}

void server::impl::leave(ws_session* s) {
  std::lock_guard lock(hub_mutex);
  if (sessions.erase(s) == 0) return;  // was never admitted
  if (!s->is_authenticated()) return;
  --authenticated;
  const auto it = by_hotkey.find(s->hotkey());
  if (it != by_hotkey.end() && (it->second.expired() || it->second.lock().get() == s)) {
    by_hotkey.erase(it);
  }
}

std::vector<std::shared_ptr<ws_session>> server::impl::authenticated_sessions() const {
  std::vector<std::shared_ptr<ws_session>> out;
  std::lock_guard lock(hub_mutex);
  out.reserve(by_hotkey.size());
  for (const auto& [key, weak] : by_hotkey) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::shared_ptr<ws_session>> server::impl::all_sessions() const {
  std::vector<std::shared_ptr<ws_session>> out;
  std::lock_guard lock(hub_mutex);
  out.reserve(sessions.size());
  for (const auto& [ptr, weak] : sessions) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

net::awaitable<void> server::impl::accept_loop(std::shared_ptr<impl> self) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(ioc), use_nothrow);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
      spdlog::warn("accept failed: {}", ec.message());
      net::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(use_nothrow);  // e.g. out of file descriptors: do not spin
      continue;
    }
    // Frames are small and latency matters: do not let Nagle hold a confirmation back.
    beast::error_code nodelay_ec;
    socket.set_option(tcp::no_delay(true), nodelay_ec);
    auto ex = socket.get_executor();
    net::co_spawn(ex, run_connection(self, std::move(socket)),
                  [](const std::exception_ptr& e) { log_failure("connection", e); });
  }
}

net::awaitable<void> server::impl::heartbeat_loop(std::shared_ptr<impl> self) {
  for (;;) {
    self->heartbeat_timer.expires_after(self->cfg.heartbeat_interval);
    if (auto [ec] = co_await self->heartbeat_timer.async_wait(use_nothrow); ec || self->stopping) {
      co_return;
    }
    // One signed heartbeat, shared by every connection.
    const auto frame =
        self->make_frame_shared(protocol::message_type::heartbeat, boost::json::object());
    for (auto& s : self->authenticated_sessions()) s->send(frame);
  }
}

net::awaitable<void> server::impl::run_connection(std::shared_ptr<impl> self, tcp::socket socket) {
  beast::error_code remote_ec;
  const tcp::endpoint remote = socket.remote_endpoint(remote_ec);
  std::string remote_text =
      remote_ec ? "unknown" : remote.address().to_string() + ":" + std::to_string(remote.port());
  if (!tls) {
    co_await serve(self, beast::tcp_stream(std::move(socket)), remote, std::move(remote_text));
    co_return;
  }
  tls_stream stream(std::move(socket), *tls);
  beast::get_lowest_layer(stream).expires_after(cfg.handshake_timeout);
  if (auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_nothrow); ec) {
    // A port scanner, a plain ws:// client or a client that distrusts our certificate.
    spdlog::info("TLS handshake with {} failed: {}", remote_text, ec.message());
    metrics::at(m->auth_failures, metrics::auth_failure::tls).Increment();
    co_return;
  }
  co_await serve(self, std::move(stream), remote, std::move(remote_text));
}

// HTTP requests on one connection (plain or TLS) until it closes or upgrades to a WebSocket.
template <class Stream>
net::awaitable<void> server::impl::serve(std::shared_ptr<impl> self, Stream stream,
                                         tcp::endpoint remote, std::string remote_text) {
  auto& tcp_layer = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(cfg.max_http_body_bytes);
    parser.header_limit(16 * 1024);
    tcp_layer.expires_after(cfg.handshake_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    if (ec == http::error::body_limit) {
      http::response<http::string_body> res{http::status::payload_too_large, 11};
      res.set(http::field::content_type, "application/json");
      res.body() = json_error_body("Request body too large");
      res.keep_alive(false);
      res.prepare_payload();
      co_await http::async_write(stream, res, use_nothrow);
      break;
    }
    if (ec == beast::error::timeout) {
      const bool partial = parser.got_some();
      (partial ? m->http_timeouts_partial : m->http_timeouts_idle)->Increment();
      spdlog::log(partial ? spdlog::level::info : spdlog::level::debug,
                  "Closed the connection from {}: {} HTTP request within {} s", remote_text,
                  partial ? "no complete" : "no", cfg.handshake_timeout.count());
    }
    if (ec) break;
    auto req = parser.release();
    const std::string_view target = req.target();
    const std::string path(target.substr(0, target.find('?')));
    const auto client = client_of(remote, req["X-Forwarded-For"]);
    if (websocket::is_upgrade(req)) {
      if (path != "/ws" || !cfg.websocket_enabled) {
        http::response<http::string_body> res{http::status::not_found, req.version()};
        res.set(http::field::content_type, "application/json");
        res.body() = json_error_body("Not found");
        res.prepare_payload();
        co_await http::async_write(stream, res, use_nothrow);
        break;
      }
      if (client != remote.address()) remote_text.insert(0, client.to_string() + " via ");
      auto session = std::make_shared<ws_session>(self, make_ws_channel(std::move(stream), ws),
                                                  std::move(remote_text));
      buffer = beast::flat_buffer();  // a client sends nothing more before the 101 answer
      co_await ws_session::run(std::move(session), std::move(req));
      co_return;
    }
    http_response reply = co_await route(req, client, tcp_layer.get_executor());
    http::response<http::string_body> res{static_cast<http::status>(reply.status), req.version()};
    res.set(http::field::server, "bettensor-validator");
    res.set(http::field::content_type, reply.content_type);
    res.keep_alive(req.keep_alive() && !stopping);
    res.body() = reply.body;
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow);
    if (wec || !res.keep_alive()) break;
  }
  beast::error_code ignored;
  if constexpr (std::is_same_v<Stream, tls_stream>) {
    tcp_layer.expires_after(cfg.close_grace);
    co_await stream.async_shutdown(use_nothrow);  // close_notify; the peer may not answer
  }
  tcp_layer.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<http_response> server::impl::route(http::request<http::string_body>& req,
                                                  const net::ip::address& client,
                                                  const net::any_io_executor& ex) {
  const std::string_view target = req.target();
  std::string path(target.substr(0, target.find('?')));
  if (path == "/ws/health") {
    if (req.method() != http::verb::get)
      co_return http_response{405, json_error_body("Method not allowed")};
    std::size_t total = 0;
    std::size_t active = 0;
    {
      std::lock_guard lock(hub_mutex);
      total = sessions.size();
      active = authenticated;
    }
    const double uptime = std::chrono::duration<double>(steady::now() - started).count();
    co_return http_response{
        200, boost::json::serialize(boost::json::object{{"status", "online"},
                                                        {"connections", total},
                                                        {"active_connections", active},
                                                        {"uptime", uptime}})};
  }
  http_request r;
  r.method = std::string(req.method_string());
  r.path = std::move(path);
  r.body = std::move(req.body());
  r.authorization = std::string(req[http::field::authorization]);
  r.remote_address = client.to_string();
  r.remote_is_loopback = client.is_loopback();
  if (!cb.on_http) co_return http_response{404, json_error_body("Not found")};
  // Hand the request to the application and resume on this connection's strand when it answers.
  // The initiation runs synchronously inside the co_await, so it may refer to this frame's
  // locals; GCC 12 miscompiles non-trivial captures of temporaries in co_await expressions.
  auto initiation = [this, ex, &r](auto handler) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    cb.on_http(std::move(r), [shared, ex](http_response res) {
      net::post(ex, [shared, res = std::move(res)]() mutable { (*shared)(std::move(res)); });
    });
  };
  http_response res =
      co_await net::async_initiate<decltype(net::use_awaitable), void(http_response)>(
          initiation, net::use_awaitable);
  co_return res;
}

server::server(net::io_context& ioc, server_config cfg, crypto::hotkey identity,
               std::shared_ptr<protocol::replay_guard> nonces, callbacks cb)
    : impl_(std::make_shared<impl>(ioc, std::move(cfg), std::move(identity), std::move(nonces),
                                   std::move(cb))) {}

server::~server() = default;

void server::start() {
  if (!impl_->cfg.listen) return;
  auto ex = impl_->acceptor.get_executor();
  net::co_spawn(ex, impl_->accept_loop(impl_),
                [](const std::exception_ptr& e) { log_failure("acceptor", e); });
  net::co_spawn(ex, impl_->heartbeat_loop(impl_),
                [](const std::exception_ptr& e) { log_failure("heartbeat", e); });
}

namespace {
net::awaitable<void> drain(std::shared_ptr<server::impl> srv, std::function<void()> done);
}

void server::stop(std::function<void()> done) {
  auto self = impl_;
  net::post(self->acceptor.get_executor(), [self, done = std::move(done)]() mutable {
    self->stopping = true;
    beast::error_code ignored;
    self->acceptor.close(ignored);
    self->heartbeat_timer.cancel();
    for (auto& s : self->all_sessions()) s->close(protocol::close_reason::shutdown, {});
    net::co_spawn(self->acceptor.get_executor(), drain(self, std::move(done)),
                  [](const std::exception_ptr& e) { log_failure("shutdown", e); });
  });
}

namespace {
// Waits (bounded by close_grace plus a little) for every connection to finish its close.
net::awaitable<void> drain(std::shared_ptr<server::impl> srv, std::function<void()> done) {
  const auto deadline = steady::now() + srv->cfg.close_grace + std::chrono::seconds(1);
  net::steady_timer poll(srv->acceptor.get_executor());
  while (steady::now() < deadline) {
    {
      std::lock_guard lock(srv->hub_mutex);
      if (srv->sessions.empty()) break;
    }
    poll.expires_after(std::chrono::milliseconds(10));
    co_await poll.async_wait(use_nothrow);
  }
  done();
}
}  // namespace

void check_tls(const server_config& cfg) {
  load_tls(cfg);
}

std::uint16_t server::local_port() const {
  beast::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

frame_ptr server::make_frame(std::string_view type, boost::json::value data) const {
  return impl_->make_frame_shared(type, std::move(data));
}

std::size_t server::broadcast(const frame_ptr& frame) {
  auto targets = impl_->authenticated_sessions();
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
    self->m->broadcast_seconds->Observe(
        std::chrono::duration<double>(steady::now() - b.queued_at).count());
  }
  self->fanning_out = false;
}

void server::disconnect_if(const std::function<bool(const std::string&)>& pred,
                           protocol::close_reason why, const std::string& text) {
  for (const auto& s : impl_->authenticated_sessions()) {
    if (pred(s->hotkey())) s->close(why, text);
  }
}

}  // namespace bettensor::transport
