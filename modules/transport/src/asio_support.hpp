// Aliases and helpers shared by the transport's coroutines (private to the module).
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <exception>
#include <string_view>

namespace bettensor::transport::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

/// I/O results as values: normal ends (closed, eof, operation_aborted) are branches, not throws.
inline constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

/// Completion of a spawned coroutine: an exception is a bug, logged with what the task was.
inline void log_failure(std::string_view what, const std::exception_ptr& e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("{}: {}", what, x.what());
  }
}

}  // namespace bettensor::transport::detail
