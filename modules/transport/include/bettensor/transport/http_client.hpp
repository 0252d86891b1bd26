// A small HTTP/1.1 client for the miner's fallback path (POST a signed prediction to a
// validator's /predictions when its WebSocket has been down too long). Beast stays in the .cpp.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace bettensor::transport {

struct http_post_request {
  std::string host;
  std::uint16_t port = 0;
  std::string target = "/";
  std::string body;
  std::string content_type = "application/json";
  std::chrono::milliseconds timeout{10000};  // connect + write + read, in total
  std::size_t max_response_bytes = std::size_t{1} * 1024 * 1024;
  /// https://: the server's certificate checked against `tls_ca_file` (PEM) or the system's.
  bool tls = false;
  std::string tls_ca_file;
};

struct http_post_result {
  std::string error;  // empty when a response arrived (whatever its status)
  unsigned status = 0;
  std::string body;
};

/// Sends one POST on a fresh connection and calls `done` exactly once, on `ex`. A connection the
/// server closes before any answer is tried once more on a new one, within the same timeout.
void async_http_post(const boost::asio::any_io_executor& ex, http_post_request req,
                     std::function<void(http_post_result)> done);

}  // namespace bettensor::transport
