#include "local_api.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/json/serialize.hpp>

#include "bettensor/console/console.hpp"
#include "outbox.hpp"

namespace bettensor::miner::detail {

namespace json = boost::json;
namespace net = boost::asio;
using transport::http_reply;
using transport::http_request;
using transport::http_response;

namespace {

http_response reply_json(unsigned status, const json::object& body) {
  return {status, json::serialize(body)};
}

using handler = std::function<net::awaitable<http_response>(api_hooks&, const http_request&)>;

// One request on the service's strand: a database failure answers 503 with the reason
// (nothing was accepted, so the model may send it again later).
net::awaitable<void> serve(std::shared_ptr<api_hooks> hooks, handler h, http_request req,
                           http_reply reply) {
  http_response res;
  try {
    res = co_await h(*hooks, req);
  } catch (const storage::storage_error& e) {
    hooks->storage_failed(e);
    res = transport::json_error(503, std::string("Miner database unavailable: ") + e.what());
  } catch (const outbox_closed&) {
    res = transport::json_error(503, "The miner is shutting down");
  }
  reply(std::move(res));
}

// Loopback only; then the handler on the service's strand.
transport::http_handler guarded(std::function<std::shared_ptr<api_hooks>()> owner, handler h) {
  return [owner = std::move(owner), h = std::move(h)](http_request req, http_reply reply) {
    if (!req.remote_is_loopback)
      return reply(transport::json_error(403, "The miner API accepts loopback clients only"));
    auto hooks = owner();
    if (!hooks) return reply(transport::json_error(503, "The miner is shutting down"));
    auto strand = hooks->strand;
    net::co_spawn(strand, serve(std::move(hooks), h, std::move(req), std::move(reply)),
                  [](const std::exception_ptr& e) {
                    if (e) spdlog::error("Local API: a request ended by an exception");
                  });
  };
}

net::awaitable<http_response> post_prediction(api_hooks& hooks, const http_request& req) {
  auto body = co_await hooks.submit(req.body);
  if (!body) {
    const bool dup = body.error().code == protocol::errc::duplicate_id;
    spdlog::info("Local API: refused a prediction: {}", body.error().message);
    co_return transport::json_error(dup ? 409 : 400, body.error().message);
  }
  co_return reply_json(202, *body);
}

net::awaitable<http_response> get_status(api_hooks& hooks, const http_request&) {
  co_return reply_json(200, co_await hooks.status());
}

net::awaitable<http_response> get_page_state(api_hooks& hooks, const http_request&) {
  auto res = reply_json(200, co_await hooks.page());
  console::secure(res);
  co_return res;
}

net::awaitable<http_response> get_metrics(api_hooks& hooks, const http_request&) {
  co_return http_response{200, hooks.metrics(), "text/plain; version=0.0.4; charset=utf-8"};
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
            t.add("GET", "/status", guarded(owner, get_status));
            t.add("GET", "/metrics", guarded(owner, get_metrics));
            // The miner's page: its files, and the state it shows (read once a second).
            t.add("GET", "/ui/state", guarded(owner, get_page_state));
            for (const std::string_view file :
                 {"miner.html", "miner.js", "common.js", "console.css"}) {
              const std::string path = file == "miner.html" ? "/" : "/assets/" + std::string(file);
              t.add("GET", path, [file](const http_request& req, const http_reply& reply) {
                if (!req.remote_is_loopback)
                  return reply(
                      transport::json_error(403, "The miner API accepts loopback clients only"));
                reply(console::serve_asset(file));
              });
            }
            return t;
          }()) {}

}  // namespace bettensor::miner::detail
