// A WebSocket over plain TCP or over TLS behind one interface, so the validator's sessions and
// the miner's links have one code path for ws:// and wss:// (private to the module). The cost
// is one virtual call and one coroutine frame per operation, next to a system call each.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "asio_support.hpp"

namespace bettensor::transport::detail {

using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using io_result = std::tuple<beast::error_code, std::size_t>;
using op_result = std::tuple<beast::error_code>;

/// How a channel is set up before its handshake.
struct ws_settings {
  std::chrono::seconds handshake_timeout{10};  // upgrade and close handshakes
  std::size_t read_message_max = std::size_t{64} * 1024;
  /// permessage-deflate offered (client) or accepted (server); off when empty.
  std::optional<websocket::permessage_deflate> deflate;
  /// Server role: answer upgrades with "Server: bettensor-validator" and send each message as
  /// one frame (Beast would cut a 20 KB update into 4 KB frames, a system call each).
  bool server = false;
};

class ws_channel {
 public:
  virtual ~ws_channel() = default;
  virtual net::awaitable<op_result> accept(beast::http::request<beast::http::string_body>& req) = 0;
  virtual net::awaitable<op_result> handshake(std::string host, std::string target) = 0;
  virtual net::awaitable<io_result> read(beast::flat_buffer& buffer) = 0;
  virtual net::awaitable<io_result> write(net::const_buffer data) = 0;
  virtual net::awaitable<op_result> close(websocket::close_reason why) = 0;
  [[nodiscard]] virtual bool got_text() const = 0;
  /// The peer's close frame, once the read side has seen it.
  [[nodiscard]] virtual const websocket::close_reason& reason() const = 0;
  /// The TCP stream underneath (deadlines, closing the socket).
  virtual beast::tcp_stream& tcp() = 0;
  virtual net::any_io_executor executor() = 0;
};

template <class Next>
class ws_channel_over final : public ws_channel {
 public:
  ws_channel_over(Next&& next, const ws_settings& s) : ws_(std::move(next)) {
    websocket::stream_base::timeout t{};
    t.handshake_timeout = s.handshake_timeout;
    t.idle_timeout = websocket::stream_base::none();  // silence is the owner's watchdog's job
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.read_message_max(s.read_message_max);
    if (s.deflate) ws_.set_option(*s.deflate);
    if (s.server) {
      ws_.auto_fragment(false);
      ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(beast::http::field::server, "bettensor-validator");
      }));
    }
  }

  net::awaitable<op_result> accept(beast::http::request<beast::http::string_body>& req) override {
    co_return co_await ws_.async_accept(req, use_nothrow);
  }
  net::awaitable<op_result> handshake(std::string host, std::string target) override {
    co_return co_await ws_.async_handshake(host, target, use_nothrow);
  }
  net::awaitable<io_result> read(beast::flat_buffer& buffer) override {
    co_return co_await ws_.async_read(buffer, use_nothrow);
  }
  net::awaitable<io_result> write(net::const_buffer data) override {
    co_return co_await ws_.async_write(data, use_nothrow);
  }
  net::awaitable<op_result> close(websocket::close_reason why) override {
    co_return co_await ws_.async_close(why, use_nothrow);
  }
  [[nodiscard]] bool got_text() const override { return ws_.got_text(); }
  [[nodiscard]] const websocket::close_reason& reason() const override { return ws_.reason(); }
  beast::tcp_stream& tcp() override { return beast::get_lowest_layer(ws_); }
  net::any_io_executor executor() override { return ws_.get_executor(); }

 private:
  websocket::stream<Next> ws_;
};

template <class Next>
std::unique_ptr<ws_channel> make_ws_channel(Next&& next, const ws_settings& s) {
  return std::make_unique<ws_channel_over<std::decay_t<Next>>>(std::forward<Next>(next), s);
}

}  // namespace bettensor::transport::detail
