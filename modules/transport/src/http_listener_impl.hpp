// The listener's inside, private to the module: the WebSocket server hands it an upgrade handler
// for its path, and every other request goes to the route table.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "asio_support.hpp"
#include "bettensor/transport/http_listener.hpp"
#include "ws_channel.hpp"

namespace bettensor::transport {

namespace detail {

using http_request_message = beast::http::request<beast::http::string_body>;

/// Takes over a connection whose request asked for a WebSocket on `path`.
struct upgrade_handler {
  std::string path = "/ws";
  ws_settings settings;
  /// false answers upgrades with 404 (e.g. a server that only serves HTTP).
  bool enabled = true;
  /// Runs the session to its end; `remote` is "ip:port" (or "client via ip:port" behind a
  /// trusted proxy).
  std::function<net::awaitable<void>(std::unique_ptr<ws_channel>, http_request_message request,
                                     std::string remote)>
      run;
};

}  // namespace detail

struct http_listener::impl : std::enable_shared_from_this<http_listener::impl> {
  impl(detail::net::io_context& io, listener_config c, route_table r, listener_events e);

  detail::net::awaitable<void> accept_loop(std::shared_ptr<impl> self);
  detail::net::awaitable<void> run_connection(std::shared_ptr<impl> self,
                                              detail::tcp::socket socket);
  // `self` keeps the listener alive while a connection is served.
  template <class Stream>
  detail::net::awaitable<void> serve(std::shared_ptr<impl> self, Stream stream,
                                     detail::tcp::endpoint remote, std::string remote_text);
  detail::net::awaitable<http_response> route(detail::http_request_message& req,
                                              const detail::net::ip::address& client,
                                              const detail::net::any_io_executor& ex);

  // Registers a streamed response so that stop() ends it; false when stopping already.
  bool keep_streaming(const std::shared_ptr<event_stream>& s);

  detail::net::io_context& ioc;
  listener_config cfg;
  route_table routes;
  listener_events events;
  std::optional<detail::net::ssl::context> tls;  // https:// and wss:// when set
  std::vector<detail::net::ip::address> trusted;
  detail::tcp::acceptor acceptor;
  std::atomic<bool> stopping{false};
  std::mutex streams_mutex;  // guards streams (and orders stopping with it)
  std::vector<std::weak_ptr<event_stream>> streams;
  std::optional<detail::upgrade_handler> upgrade;  // set before start()
};

}  // namespace bettensor::transport
