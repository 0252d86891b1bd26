// A JSON-RPC 2.0 client over one WebSocket (ws:// or wss://), the way Substrate nodes serve their
// API: one call at a time, each with its own id and a deadline. The connection is opened by the
// first call and kept; any failure drops it, and the next call opens a new one. Beast stays in
// the .cpp.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/assert/source_location.hpp>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace bettensor::transport {

/// ws[s]://host[:port][/path]; the port defaults to 80 (ws) or 443 (wss).
struct rpc_url {
  bool tls = false;
  std::string host;
  std::uint16_t port = 0;
  std::string path = "/";
};

/// Why a call gave no result.
enum class rpc_failure : std::uint8_t {
  unreachable,  // resolve, connect, TLS or the WebSocket upgrade failed, or the node hung up
  timeout,      // no answer within the deadline
  rpc_error,    // the node answered with an error object
  malformed,    // the answer is not JSON-RPC 2.0, or too large
  count_
};

struct rpc_error {
  rpc_failure kind = rpc_failure::unreachable;
  std::string message;
};
[[noreturn]] void throw_exception_from_error(const rpc_error& e, const boost::source_location& loc);

template <class T>
using rpc_result = boost::system::result<T, rpc_error>;

/// Parses a node address; the error names what is wrong.
boost::system::result<rpc_url, std::string> parse_rpc_url(std::string_view text);
std::string to_string(const rpc_url& url);

struct rpc_config {
  rpc_url url;
  std::chrono::milliseconds timeout{15000};  // opening the connection, and each call
  std::string tls_ca_file;                   // wss://: PEM file to trust; the system's if empty
  std::size_t max_message_bytes = std::size_t{32} * 1024 * 1024;
};

class json_rpc_client {
 public:
  /// Throws std::invalid_argument when the CA file cannot be used.
  json_rpc_client(const boost::asio::any_io_executor& ex, rpc_config cfg);
  ~json_rpc_client();
  json_rpc_client(const json_rpc_client&) = delete;
  json_rpc_client& operator=(const json_rpc_client&) = delete;

  /// Sends {"jsonrpc":"2.0","id":N,"method":...,"params":[...]} and returns the answer's
  /// "result". Frames with another id (notifications) are skipped. Not to be called again
  /// before the previous call completed.
  boost::asio::awaitable<rpc_result<boost::json::value>> call(std::string method,
                                                              boost::json::array params);
  /// Closes the connection (the next call opens a new one). A call under way ends with
  /// rpc_failure::unreachable, even if its answer had already come. Call it from the executor
  /// (or strand) the calls run on.
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace bettensor::transport
