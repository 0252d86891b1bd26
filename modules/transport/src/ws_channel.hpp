// A WebSocket over plain TCP or over TLS behind one interface, so the validator's sessions and
// the miner's links have one code path for ws:// and wss:// (private to the module). The cost
// is one virtual call and one coroutine frame per operation, next to a system call each.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <span>
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
  /// Writes one message. With `initiation_cpu`, adds the thread's CPU seconds spent in the call
  /// before it first waited: the framing and the system call, which Asio attempts at once.
  virtual net::awaitable<io_result> write(net::const_buffer data,
                                          double* initiation_cpu = nullptr) = 0;
  /// Writes `messages` in order, each as one message, in as few system calls as the stream
  /// allows: one over plain TCP (the frames are gathered first), one per message over TLS.
  /// The byte count is the messages' total; `initiation_cpu` as for write().
  virtual net::awaitable<io_result> write_all(std::span<const net::const_buffer> messages,
                                              double* initiation_cpu = nullptr) = 0;
  virtual net::awaitable<op_result> close(websocket::close_reason why) = 0;
  [[nodiscard]] virtual bool got_text() const = 0;
  /// Called when a read meets a control frame (ping, pong, close) between messages.
  virtual void on_control(std::function<void()> cb) = 0;
  /// Bytes the kernel holds for the next reads (0 when nothing has arrived yet).
  [[nodiscard]] virtual std::size_t readable_now() = 0;
  /// The peer's close frame, once the read side has seen it.
  [[nodiscard]] virtual const websocket::close_reason& reason() const = 0;
  /// The TCP stream underneath (deadlines, closing the socket).
  virtual beast::tcp_stream& tcp() = 0;
  virtual net::any_io_executor executor() = 0;
};

/// The channel over each stream type (both in ws_channel.cpp).
std::unique_ptr<ws_channel> make_ws_channel(beast::tcp_stream&& next, const ws_settings& s);
std::unique_ptr<ws_channel> make_ws_channel(tls_stream&& next, const ws_settings& s);

}  // namespace bettensor::transport::detail
