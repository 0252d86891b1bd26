#include "bettensor/transport/http_listener.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <type_traits>

#include "bettensor/transport/event_stream.hpp"
#include "client_address.hpp"
#include "http_listener_impl.hpp"
#include "tls_server.hpp"

namespace bettensor::transport {

using namespace detail;
namespace http = beast::http;
namespace ssl = net::ssl;

http_response json_error(unsigned status, std::string_view message) {
  return {status,
          boost::json::serialize(boost::json::object{{"status", "error"}, {"message", message}})};
}

route_table& route_table::add(std::string method, std::string path, http_handler handler) {
  routes_.push_back({std::move(method), std::move(path), std::move(handler)});
  return *this;
}

route_table& route_table::add(const route_table& other) {
  routes_.insert(routes_.end(), other.routes_.begin(), other.routes_.end());
  return *this;
}

void route_table::dispatch(http_request req, http_reply reply) const {
  bool path_known = false;
  for (const auto& r : routes_) {
    if (r.path != req.path) continue;
    path_known = true;
    if (!r.method.empty() && r.method != req.method) continue;
    r.handler(std::move(req), std::move(reply));
    return;
  }
  reply(path_known ? json_error(405, "Method not allowed") : json_error(404, "Not found"));
}

http_listener::impl::impl(net::io_context& io, listener_config c, route_table r, listener_events e)
    : ioc(io),
      cfg(std::move(c)),
      routes(std::move(r)),
      events(std::move(e)),
      acceptor(net::make_strand(io)) {
  if (!cfg.tls_cert_file.empty() || !cfg.tls_key_file.empty())
    tls.emplace(load_server_tls(cfg.tls_cert_file, cfg.tls_key_file));
  for (const auto& text : cfg.trusted_proxies) {
    beast::error_code ec;
    trusted.push_back(net::ip::make_address(text, ec));
    if (ec) throw std::runtime_error("trusted proxy '" + text + "' is not an IP address");
  }
  if (!cfg.listen) return;
  const tcp::endpoint ep(net::ip::make_address(cfg.address), cfg.port);
  acceptor.open(ep.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(net::socket_base::max_listen_connections);
}

net::awaitable<void> http_listener::impl::accept_loop(std::shared_ptr<impl> self) {
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

net::awaitable<void> http_listener::impl::run_connection(std::shared_ptr<impl> self,
                                                         tcp::socket socket) {
  beast::error_code remote_ec;
  const tcp::endpoint remote = socket.remote_endpoint(remote_ec);
  std::string remote_text =
      remote_ec ? "unknown" : remote.address().to_string() + ":" + std::to_string(remote.port());
  if (!tls) {
    co_await serve(self, beast::tcp_stream(std::move(socket)), remote, std::move(remote_text));
    co_return;
  }
  tls_stream stream(std::move(socket), *tls);
  beast::get_lowest_layer(stream).expires_after(cfg.request_timeout);
  if (auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_nothrow); ec) {
    // A port scanner, a plain client or a client that distrusts our certificate.
    spdlog::info("TLS handshake with {} failed: {}", remote_text, ec.message());
    if (events.on_tls_failure) events.on_tls_failure();
    co_return;
  }
  co_await serve(self, std::move(stream), remote, std::move(remote_text));
}

namespace {

// Writes one response; true when the connection stays open for another request.
template <class Stream>
net::awaitable<bool> write_response(Stream& stream, const std::string& server_name,
                                    http_response reply, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
  res.set(http::field::server, server_name);
  res.set(http::field::content_type, reply.content_type);
  for (const auto& [name, value] : reply.headers) res.set(name, value);
  res.keep_alive(keep_alive);
  res.body() = std::move(reply.body);
  res.prepare_payload();
  auto [ec, n] = co_await http::async_write(stream, res, use_nothrow);
  co_return !ec && keep_alive;
}

// Writes a streamed response: the header without a length, then each chunk the stream is
// given, until it ends or the client goes away (the connection then closes).
template <class Stream>
net::awaitable<void> write_stream(Stream& stream, const listener_config& cfg, http_response reply,
                                  unsigned version) {
  auto events = std::move(reply.stream);
  auto& tcp_layer = beast::get_lowest_layer(stream);
  http::response<http::empty_body> res{static_cast<http::status>(reply.status), version};
  res.set(http::field::server, cfg.server_name);
  res.set(http::field::content_type, reply.content_type);
  for (const auto& [name, value] : reply.headers) res.set(name, value);
  res.keep_alive(false);
  http::response_serializer<http::empty_body> header(res);
  tcp_layer.expires_after(cfg.request_timeout);
  if (auto [ec, n] = co_await http::async_write_header(stream, header, use_nothrow); ec) {
    events->close();
    co_return;
  }
  // A push wakes the wait below; the wake is posted to this connection's strand, where the
  // check for queued chunks and the wait happen together, so none is missed.
  auto wake = std::make_shared<net::steady_timer>(tcp_layer.get_executor());
  events->on_ready([weak = std::weak_ptr(wake), ex = tcp_layer.get_executor()] {
    net::post(ex, [weak] {
      if (auto t = weak.lock()) t->cancel();
    });
  });
  for (;;) {
    std::string chunk = events->take();
    if (chunk.empty()) {
      if (events->closed()) break;
      wake->expires_after(cfg.stream_keepalive);
      auto [ec] = co_await wake->async_wait(use_nothrow);
      if (ec) continue;  // woken: something was queued, or the stream ended
      chunk = ": keep-alive\n\n";
    }
    tcp_layer.expires_after(cfg.request_timeout);
    if (auto [ec, n] = co_await net::async_write(stream, net::buffer(chunk), use_nothrow); ec)
      break;
  }
  events->on_ready({});
  events->close();
}

}  // namespace

// HTTP requests on one connection (plain or TLS) until it closes or upgrades to a WebSocket.
template <class Stream>
net::awaitable<void> http_listener::impl::serve([[maybe_unused]] std::shared_ptr<impl> self,
                                                Stream stream, tcp::endpoint remote,
                                                std::string remote_text) {
  auto& tcp_layer = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(cfg.max_http_body_bytes);
    parser.header_limit(16 * 1024);
    tcp_layer.expires_after(cfg.request_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    if (ec == http::error::body_limit) {
      auto reply = json_error(413, "Request body too large");
      co_await write_response(stream, cfg.server_name, std::move(reply), 11, false);
      break;
    }
    if (ec == beast::error::timeout) {
      const bool partial = parser.got_some();
      if (events.on_request_timeout) events.on_request_timeout(partial);
      spdlog::log(partial ? spdlog::level::info : spdlog::level::debug,
                  "Closed the connection from {}: {} HTTP request within {} s", remote_text,
                  partial ? "no complete" : "no", cfg.request_timeout.count());
    }
    if (ec) break;
    auto req = parser.release();
    const std::string_view target = req.target();
    const auto client = client_behind(remote.address(), req["X-Forwarded-For"], trusted);
    if (beast::websocket::is_upgrade(req)) {
      const std::string_view path = target.substr(0, target.find('?'));
      if (!upgrade || !upgrade->enabled || path != upgrade->path) {
        auto reply = json_error(404, "Not found");
        co_await write_response(stream, cfg.server_name, std::move(reply), req.version(), false);
        break;
      }
      if (client != remote.address()) remote_text.insert(0, client.to_string() + " via ");
      auto ex = tcp_layer.get_executor();
      auto channel = make_ws_channel(std::move(stream), upgrade->settings);
      // The session runs as a coroutine of its own and this one ends: a WebSocket connection,
      // idle for most of its life, keeps neither this frame (the HTTP parser, buffer and stream
      // slot) nor the connection's first one. (A client sends nothing before the 101 answer.)
      net::co_spawn(ex, upgrade->run(std::move(channel), std::move(req), std::move(remote_text)),
                    [](const std::exception_ptr& e) { log_failure("connection", e); });
      co_return;
    }
    http_response reply = co_await route(req, client, tcp_layer.get_executor());
    if (reply.stream) {
      if (!keep_streaming(reply.stream)) {
        reply = json_error(503, "Server closing");
        co_await write_response(stream, cfg.server_name, std::move(reply), req.version(), false);
        break;
      }
      co_await write_stream(stream, cfg, std::move(reply), req.version());
      break;
    }
    const bool keep_alive = req.keep_alive() && !stopping;
    if (!co_await write_response(stream, cfg.server_name, std::move(reply), req.version(),
                                 keep_alive))
      break;
  }
  beast::error_code ignored;
  if constexpr (std::is_same_v<Stream, tls_stream>) {
    tcp_layer.expires_after(cfg.close_grace);
    co_await stream.async_shutdown(use_nothrow);  // close_notify; the peer may not answer
  }
  tcp_layer.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<http_response> http_listener::impl::route(http::request<http::string_body>& req,
                                                         const net::ip::address& client,
                                                         const net::any_io_executor& ex) {
  const std::string_view target = req.target();
  const auto q = target.find('?');
  http_request r;
  r.method = std::string(req.method_string());
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  r.body = std::move(req.body());
  r.authorization = std::string(req[http::field::authorization]);
  r.cookie = std::string(req[http::field::cookie]);
  r.content_type = std::string(req[http::field::content_type]);
  r.host = std::string(req[http::field::host]);
  r.origin = std::string(req[http::field::origin]);
  r.remote_address = client.to_string();
  r.remote_is_loopback = client.is_loopback();
  // Hand the request to its handler and resume on this connection's strand when it answers.
  // The initiation runs synchronously inside the co_await, so it may refer to this frame's
  // locals; GCC 12 miscompiles non-trivial captures of temporaries in co_await expressions.
  auto initiation = [this, ex, &r](auto handler) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    routes.dispatch(std::move(r), [shared, ex](http_response res) {
      net::post(ex, [shared, res = std::move(res)]() mutable { (*shared)(std::move(res)); });
    });
  };
  http_response res =
      co_await net::async_initiate<decltype(net::use_awaitable), void(http_response)>(
          initiation, net::use_awaitable);
  co_return res;
}

http_listener::http_listener(net::io_context& ioc, listener_config cfg, route_table routes,
                             listener_events events)
    : impl_(std::make_shared<impl>(ioc, std::move(cfg), std::move(routes), std::move(events))) {}

http_listener::~http_listener() = default;

void http_listener::start() {
  if (!impl_->cfg.listen) return;
  net::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(impl_),
                [](const std::exception_ptr& e) { log_failure("acceptor", e); });
}

bool http_listener::impl::keep_streaming(const std::shared_ptr<event_stream>& s) {
  std::lock_guard lock(streams_mutex);
  if (stopping) return false;
  std::erase_if(streams, [](const auto& w) { return w.expired(); });
  streams.push_back(s);
  return true;
}

void http_listener::stop() {
  auto self = impl_;
  {
    std::lock_guard lock(self->streams_mutex);
    self->stopping = true;
    for (const auto& w : self->streams) {
      if (auto s = w.lock()) s->close();
    }
    self->streams.clear();
  }
  net::post(self->acceptor.get_executor(), [self] {
    beast::error_code ignored;
    self->acceptor.close(ignored);
  });
}

std::uint16_t http_listener::local_port() const {
  beast::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

}  // namespace bettensor::transport
