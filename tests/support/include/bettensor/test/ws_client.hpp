// A blocking WebSocket/HTTP client for integration tests, plain or TLS. Every frame read is
// bounded by the client's timeout, so a missing frame fails the test instead of hanging it.
// Compiled once in the test kit (src/ws_client.cpp) for both stream types.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace bettensor::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;
namespace ssl = boost::asio::ssl;

void set_receive_timeout(tcp::socket& s, std::chrono::seconds t);

/// How the server ended a connection.
struct close_info {
  std::uint16_t code = 0;
  std::string reason;
};

/// What a test client adds to a plain ws:// connection.
struct client_extras {
  std::optional<std::filesystem::path> tls_ca;    // wss://, trusting only this PEM file
  std::string tls_host = "127.0.0.1";             // the name (or IP) the certificate must match
  bool deflate = false;                           // offer permessage-deflate
  std::string forwarded_for;                      // an X-Forwarded-For header (HTTP requests)
  std::string content_type = "application/json";  // HTTP requests with a body
  std::string cookie;                             // a Cookie header (HTTP requests)
  std::string host = "127.0.0.1";                 // the Host header (HTTP requests)
  std::string origin;                             // an Origin header (HTTP requests)
};

/// A client TLS context trusting only `ca`, checking the certificate against `host`.
ssl::context test_tls_context(const std::filesystem::path& ca);

/// A blocking WebSocket client over plain TCP (ws_client) or TLS (wss_client).
template <class Next>
class basic_ws_client {
 public:
  explicit basic_ws_client(std::uint16_t port,
                           std::chrono::seconds timeout = std::chrono::seconds(10),
                           const std::string& path = "/ws", const client_extras& x = {});

  void send(const std::string& text);
  void send_binary(const std::string& bytes);
  /// The next text frame, or nullopt once the connection is closed (see close_reason()) or when
  /// none came within the timeout (error() is then timed_out and the client is unusable).
  std::optional<std::string> read();
  /// Reads until the server closes; returns its close code and reason.
  close_info read_until_closed();
  [[nodiscard]] close_info close_reason() const;
  [[nodiscard]] beast::error_code error() const { return error_; }
  [[nodiscard]] bool is_open() const;
  /// The transport under the WebSocket, for writing raw (malformed) bytes.
  Next& next_layer();
  /// The server's 101 answer (e.g. its Sec-WebSocket-Extensions).
  [[nodiscard]] const websocket::response_type& upgrade_response() const { return upgrade_; }
  void close();

 private:
  websocket::stream<Next> make_stream();

  boost::asio::io_context ioc_;
  std::chrono::seconds timeout_;
  ssl::context ctx_;
  websocket::stream<Next> ws_;
  websocket::response_type upgrade_;
  beast::error_code error_;
};

extern template class basic_ws_client<tcp::socket>;
extern template class basic_ws_client<beast::ssl_stream<tcp::socket>>;
using ws_client = basic_ws_client<tcp::socket>;
using wss_client = basic_ws_client<beast::ssl_stream<tcp::socket>>;

struct http_result {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case

  /// The header's value, or "" when the response has none.
  [[nodiscard]] std::string header(const std::string& lower_case_name) const {
    const auto it = headers.find(lower_case_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

/// One HTTP request on a fresh connection; over TLS when `x.tls_ca` is set.
http_result http_request(std::uint16_t port, http::verb method, const std::string& target,
                         const std::string& body = {}, const std::string& authorization = {},
                         const client_extras& x = {});

}  // namespace bettensor::test
