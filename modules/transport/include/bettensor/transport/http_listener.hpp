// A generic HTTP/1.1 listener: one port, plain or TLS, keep-alive, a body limit and a request
// deadline, the client address behind trusted proxies, and a route table. It knows nothing of
// hotkeys, signatures or the validator's metrics: the miner's local API runs on it as it is, and
// the validator's WebSocket server is built on it. Beast stays in the .cpp files.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace bettensor::transport {

class event_stream;

struct http_request {
  std::string method = {};
  std::string path = {};   // target without the query
  std::string query = {};  // after '?', without it
  std::string body = {};
  std::string authorization = {};  // the Authorization header
  std::string cookie = {};         // the Cookie header
  std::string content_type = {};   // the Content-Type header
  std::string host = {};           // the Host header
  std::string origin = {};         // the Origin header (browsers send it on cross-origin calls)
  std::string remote_address = {};
  bool remote_is_loopback = false;
};

struct http_response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  /// Further headers (Cache-Control, Content-Security-Policy, ...).
  std::vector<std::pair<std::string, std::string>> headers = {};
  /// When set, `body` is ignored: the header goes out without a length and the connection then
  /// carries what the stream is given until it ends (server-sent events).
  std::shared_ptr<event_stream> stream = {};
};

/// {"status": "error", "message": message} with `status`.
http_response json_error(unsigned status, std::string_view message);

using http_reply = std::function<void(http_response)>;
/// Answers one request by calling `reply` exactly once, on any thread.
using http_handler = std::function<void(http_request, http_reply)>;

/// Exact paths to handlers. A known path asked with another method answers 405 "Method not
/// allowed", an unknown path 404 "Not found".
class route_table {
 public:
  /// `method` is "GET", "POST", ...; empty accepts every method (the handler checks).
  route_table& add(std::string method, std::string path, http_handler handler);
  /// Appends every route of `other` (after this table's own, which match first).
  route_table& add(const route_table& other);
  void dispatch(http_request req, http_reply reply) const;
  [[nodiscard]] bool empty() const { return routes_.empty(); }

 private:
  struct route {
    std::string method;
    std::string path;
    http_handler handler;
  };
  std::vector<route> routes_;
};

struct listener_config {
  std::string address = "0.0.0.0";
  std::uint16_t port = 0;  // 0 picks a free port
  std::size_t max_http_body_bytes = std::size_t{64} * 1024;
  std::chrono::seconds request_timeout{10};  // a whole request (and the TLS handshake)
  std::chrono::seconds close_grace{3};       // TLS close_notify at the end of a connection
  /// A streamed response with nothing to send writes a comment this often (finds dead clients,
  /// keeps proxies from closing it).
  std::chrono::seconds stream_keepalive{15};
  /// https://: a PEM certificate chain and its key (both or neither).
  std::string tls_cert_file;
  std::string tls_key_file;
  /// Proxies whose X-Forwarded-For names the real client (see forwarded_client).
  std::vector<std::string> trusted_proxies;
  std::string server_name = "bettensor";  // the Server header
  /// false: no socket is opened; routes can still be driven through the route table.
  bool listen = true;
};

/// What the listener reports, for the owner's logs and metrics (each may be empty).
struct listener_events {
  std::function<void(bool partial)> on_request_timeout;  // idle or half-sent request
  std::function<void()> on_tls_failure;
};

class http_listener {
 public:
  /// Binds and listens; throws std::system_error if it cannot, std::runtime_error naming the file
  /// when the TLS certificate or key cannot be used, or the entry when a trusted proxy is not an
  /// IP address.
  http_listener(boost::asio::io_context& ioc, listener_config cfg, route_table routes,
                listener_events events = {});
  ~http_listener();
  http_listener(const http_listener&) = delete;
  http_listener& operator=(const http_listener&) = delete;

  void start();
  /// Stops accepting and ends the streamed responses; requests still in flight are answered
  /// with Connection: close.
  void stop();
  [[nodiscard]] std::uint16_t local_port() const;

  struct impl;  // http_listener_impl.hpp: the WebSocket server plugs its upgrade in there
  [[nodiscard]] impl& internals() { return *impl_; }

 private:
  std::shared_ptr<impl> impl_;
};

/// Loads a server TLS certificate and key as the listener would; throws std::runtime_error naming
/// the file and the reason when they cannot be used (for --check-config).
void check_server_tls(const std::string& cert_file, const std::string& key_file);

}  // namespace bettensor::transport
