// A blocking WebSocket/HTTP client for integration tests, plain or TLS. Every read is bounded by a
// socket receive timeout, so a missing frame fails the test instead of hanging it.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace bettensor::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;
namespace ssl = boost::asio::ssl;

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

/// What a test client adds to a plain ws:// connection.
struct client_extras {
  std::optional<std::filesystem::path> tls_ca;  // wss://, trusting only this PEM file
  std::string tls_host = "127.0.0.1";           // the name (or IP) the certificate must match
  bool deflate = false;                         // offer permessage-deflate
  std::string forwarded_for;                    // an X-Forwarded-For header (HTTP requests)
};

/// A client TLS context trusting only `ca`, checking the certificate against `host`.
inline ssl::context test_tls_context(const std::filesystem::path& ca) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(ca.string());
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

template <class Next>
void tls_connect(Next& next, std::uint16_t port, std::chrono::seconds timeout,
                 const client_extras& x) {
  auto& socket = beast::get_lowest_layer(next);
  boost::asio::connect(
      socket, tcp::resolver(socket.get_executor()).resolve("127.0.0.1", std::to_string(port)));
  socket.set_option(tcp::no_delay(true));
  set_receive_timeout(socket, timeout);
  if constexpr (!std::is_same_v<Next, tcp::socket>) {
    auto* param = ::SSL_get0_param(next.native_handle());
    if (::X509_VERIFY_PARAM_set1_ip_asc(param, x.tls_host.c_str()) != 1)  // not an IP: a name
      ::X509_VERIFY_PARAM_set1_host(param, x.tls_host.c_str(), 0);
    next.handshake(ssl::stream_base::client);
  }
}

/// A blocking WebSocket client over plain TCP (ws_client) or TLS (wss_client).
template <class Next>
class basic_ws_client {
 public:
  explicit basic_ws_client(std::uint16_t port,
                           std::chrono::seconds timeout = std::chrono::seconds(10),
                           const std::string& path = "/ws", const client_extras& x = {})
      : ctx_(x.tls_ca ? test_tls_context(*x.tls_ca) : ssl::context(ssl::context::tls_client)),
        ws_(make_stream()) {
    tls_connect(ws_.next_layer(), port, timeout, x);
    if (x.deflate) {
      websocket::permessage_deflate pmd;
      pmd.client_enable = true;
      ws_.set_option(pmd);
    }
    ws_.handshake(upgrade_, "127.0.0.1:" + std::to_string(port), path);
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
  /// The transport under the WebSocket, for writing raw (malformed) bytes.
  Next& next_layer() { return ws_.next_layer(); }
  /// The server's 101 answer (e.g. its Sec-WebSocket-Extensions).
  [[nodiscard]] const websocket::response_type& upgrade_response() const { return upgrade_; }

  void close() {
    beast::error_code ec;
    ws_.close(websocket::close_code::normal, ec);
  }

 private:
  websocket::stream<Next> make_stream() {
    if constexpr (std::is_same_v<Next, tcp::socket>) {
      return websocket::stream<Next>(ioc_);
    } else {
      return websocket::stream<Next>(ioc_, ctx_);
    }
  }

  boost::asio::io_context ioc_;
  ssl::context ctx_;
  websocket::stream<Next> ws_;
  websocket::response_type upgrade_;
  beast::error_code error_;
};

using ws_client = basic_ws_client<tcp::socket>;
using wss_client = basic_ws_client<beast::ssl_stream<tcp::socket>>;

struct http_result {
  unsigned status = 0;
  std::string body;
};

/// One HTTP request on a fresh connection; over TLS when `x.tls_ca` is set.
inline http_result http_request(std::uint16_t port, http::verb method, const std::string& target,
                                const std::string& body = {}, const std::string& authorization = {},
                                const client_extras& x = {}) {
  boost::asio::io_context ioc;
  const auto exchange = [&](auto& stream) -> http_result {
    tls_connect(stream, port, std::chrono::seconds(10), x);
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    if (!x.forwarded_for.empty()) req.set("X-Forwarded-For", x.forwarded_for);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    beast::error_code ec;
    http::read(stream, buf, res, ec);
    if (ec) return {0, ec.message()};
    return {res.result_int(), res.body()};
  };
  if (!x.tls_ca) {
    tcp::socket socket(ioc);
    return exchange(socket);
  }
  auto ctx = test_tls_context(*x.tls_ca);
  beast::ssl_stream<tcp::socket> stream(ioc, ctx);
  return exchange(stream);
}

}  // namespace bettensor::test
