#include "local_api.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/json/serialize.hpp>

namespace bettensor::miner::detail {

namespace json = boost::json;
using transport::http_reply;
using transport::http_request;
using transport::http_response;

namespace {

http_response reply_json(unsigned status, const json::object& body) {
  return {status, json::serialize(body)};
}

using handler = std::function<void(api_hooks&, const http_request&, const http_reply&)>;

// Loopback only; then the handler on the service's strand, a database failure answering 503
// with the reason (nothing was accepted, so the model may send it again later).
transport::http_handler guarded(std::function<std::shared_ptr<api_hooks>()> owner, handler h) {
  return [owner = std::move(owner), h = std::move(h)](http_request req, http_reply reply) {
    if (!req.remote_is_loopback)
      return reply(transport::json_error(403, "The miner API accepts loopback clients only"));
    auto hooks = owner();
    if (!hooks) return reply(transport::json_error(503, "The miner is shutting down"));
    boost::asio::post(hooks->strand, [hooks, h, req = std::move(req), reply = std::move(reply)] {
      try {
        h(*hooks, req, reply);
      } catch (const storage::storage_error& e) {
        hooks->storage_failed(e);
        reply(transport::json_error(503, std::string("Miner database unavailable: ") + e.what()));
      }
    });
  };
}

void post_prediction(api_hooks& hooks, const http_request& req, const http_reply& reply) {
  auto body = hooks.submit(req.body);
  if (!body) {
    const bool dup = body.error().code == protocol::errc::duplicate_id;
    spdlog::info("Local API: refused a prediction: {}", body.error().message);
    return reply(transport::json_error(dup ? 409 : 400, body.error().message));
  }
  reply(reply_json(202, *body));
}

}  // namespace

local_api::local_api(boost::asio::io_context& ioc, const std::string& address, std::uint16_t port,
                     std::function<std::shared_ptr<api_hooks>()> owner)
    : listener_(
          ioc,
          [&] {
            transport::listener_config cfg;
            cfg.address = address;
            cfg.port = port;
            cfg.server_name = "bettensor-miner";
            return cfg;
          }(),
          [&] {
            transport::route_table t;
            t.add("POST", "/predictions", guarded(owner, post_prediction));
            t.add("GET", "/status",
                  guarded(owner, [](api_hooks& h, const http_request&, const http_reply& r) {
                    r(reply_json(200, h.status()));
                  }));
            t.add("GET", "/metrics",
                  guarded(owner, [](api_hooks& h, const http_request&, const http_reply& r) {
                    r({200, h.metrics(), "text/plain; version=0.0.4; charset=utf-8"});
                  }));
            return t;
          }()) {}

}  // namespace bettensor::miner::detail
