// The miner's loopback API for an external model (SPEC.md section 8): POST /predictions,
// GET /status and GET /metrics on a generic http_listener. The service answers through hooks run
// on its strand; this class owns the routes, the loopback check and the status codes.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <string>

#include "bettensor/protocol/error.hpp"
#include "bettensor/storage/storage_error.hpp"
#include "bettensor/transport/http_listener.hpp"

namespace boost::asio {
class io_context;
}

namespace bettensor::miner::detail {

struct api_hooks {
  boost::asio::any_io_executor strand;  // every hook runs here
  /// A prediction body from the model: the 202 body, or the refusal (errc::duplicate_id
  /// answers 409, anything else 400). May throw storage_error (503 with the reason).
  std::function<boost::asio::awaitable<protocol::result<boost::json::object>>(std::string body)>
      submit;
  /// May throw storage_error, as submit.
  std::function<boost::asio::awaitable<boost::json::object>()> status;
  /// The miner's page state: its games, predictions with each validator's answer, validators.
  std::function<boost::asio::awaitable<boost::json::object>()> page;
  std::function<std::string()> metrics;                               // the Prometheus text
  std::function<void(const storage::storage_error&)> storage_failed;  // logs and counts
  /// Counts a refused request: "remote", "host" or "origin" (runs on any thread).
  std::function<void(std::string_view reason)> refused;
};

class local_api {
 public:
  /// Binds `address:port`; throws std::system_error if it cannot. `hooks` are reached through
  /// `owner`: once it returns null (the service is gone) requests answer 503.
  local_api(boost::asio::io_context& ioc, const std::string& address, std::uint16_t port,
            std::function<std::shared_ptr<api_hooks>()> owner);

  void start() { listener_.start(); }
  void stop() { listener_.stop(); }
  [[nodiscard]] std::uint16_t port() const { return listener_.local_port(); }

 private:
  transport::http_listener listener_;
};

}  // namespace bettensor::miner::detail
