// A blocking WebSocket/HTTP client for integration tests. Every read is bounded by a socket
// receive timeout, so a missing frame fails the test instead of hanging it.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace bettensor::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;

inline void set_receive_timeout(tcp::socket& s, std::chrono::seconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count());
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/// How the server ended a connection.
struct close_info {
  std::uint16_t code = 0;
  std::string reason;
};

class ws_client {
 public:
  explicit ws_client(std::uint16_t port, std::chrono::seconds timeout = std::chrono::seconds(10),
                     const std::string& path = "/ws")
      : ws_(ioc_) {
    tcp::resolver resolver(ioc_);
    boost::asio::connect(ws_.next_layer(), resolver.resolve("127.0.0.1", std::to_string(port)));
    ws_.next_layer().set_option(tcp::no_delay(true));
    set_receive_timeout(ws_.next_layer(), timeout);
    ws_.handshake("127.0.0.1:" + std::to_string(port), path);
  }

  void send(const std::string& text) { ws_.write(boost::asio::buffer(text)); }
  void send_binary(const std::string& bytes) {
    ws_.binary(true);
    ws_.write(boost::asio::buffer(bytes));
    ws_.text(true);
  }

  /// The next text frame, or nullopt once the connection is closed (see close_reason()).
  std::optional<std::string> read() {
    beast::flat_buffer buf;
    beast::error_code ec;
    ws_.read(buf, ec);
    if (ec) {
      error_ = ec;
      return std::nullopt;
    }
    return beast::buffers_to_string(buf.data());
  }

  /// Reads until the server closes; returns its close code and reason.
  close_info read_until_closed() {
    while (read()) {
    }
    return close_reason();
  }

  [[nodiscard]] close_info close_reason() const {
    const auto& r = ws_.reason();
    return {r.code, std::string(r.reason.data(), r.reason.size())};
  }
  [[nodiscard]] beast::error_code error() const { return error_; }
  [[nodiscard]] bool is_open() const { return ws_.is_open(); }

  void close() {
    beast::error_code ec;
    ws_.close(websocket::close_code::normal, ec);
  }

 private:
  boost::asio::io_context ioc_;
  websocket::stream<tcp::socket> ws_;
  beast::error_code error_;
};

struct http_result {
  unsigned status = 0;
  std::string body;
};

/// One HTTP request on a fresh connection.
inline http_result http_request(std::uint16_t port, http::verb method, const std::string& target,
                                const std::string& body = {},
                                const std::string& authorization = {}) {
  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  tcp::resolver resolver(ioc);
  boost::asio::connect(socket, resolver.resolve("127.0.0.1", std::to_string(port)));
  set_receive_timeout(socket, std::chrono::seconds(10));
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(socket, buf, res, ec);
  if (ec) return {0, ec.message()};
  return {res.result_int(), res.body()};
}

}  // namespace bettensor::test
