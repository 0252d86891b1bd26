#include "local_api.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/json/serialize.hpp>

#include <optional>
#include <string_view>

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

// The host part of a Host header ("127.0.0.1:10402", "[::1]:10402", "localhost").
std::string_view host_name(std::string_view host) {
  if (host.starts_with('[')) return host.substr(0, host.find(']') + 1);
  return host.substr(0, host.find(':'));
}

// "localhost" or a loopback address ("127.0.0.1", "[::1]"); a name such as 127.example.org is
// not one. An empty name (a client sending no Host) passes.
bool is_loopback_name(std::string_view name) {
  if (name.empty() || name == "localhost") return true;
  if (name.starts_with('[') && name.ends_with(']')) name = name.substr(1, name.size() - 2);
  boost::system::error_code ec;
  const auto a = net::ip::make_address(name, ec);
  return !ec && a.is_loopback();
}

struct refusal {
  std::string_view reason;  // the metric label
  std::string message;
};

// Why a request is refused, if it is: a client that is not on loopback, or a web page the
// miner's browser opened sending requests to the loopback port (from another origin, or under a
// name it re-pointed at 127.0.0.1).
std::optional<refusal> refusal_of(const http_request& req) {
  if (!req.remote_is_loopback)
    return refusal{"remote", "The miner API accepts loopback clients only"};
  if (!is_loopback_name(host_name(req.host)))
    return refusal{"host", "The miner API answers requests for localhost or 127.0.0.1 only"};
  if (!req.origin.empty() && req.origin != "http://" + req.host)
    return refusal{"origin", "Cross-origin requests to the miner API are refused"};
  return std::nullopt;
}

// Answers 403 when `req` is refused (logged and counted); false then.
bool admitted(const http_request& req, const http_reply& reply,
              const std::function<std::shared_ptr<api_hooks>()>& owner) {
  auto why = refusal_of(req);
  if (!why) return true;
  spdlog::warn("Local API: refused {} {} from {} (Host: {}, Origin: {}): {}", req.method, req.path,
               req.remote_address, req.host, req.origin, why->message);
  if (auto hooks = owner(); hooks && hooks->refused) hooks->refused(why->reason);
  reply(transport::json_error(403, why->message));
  return false;
}

// Admitted requests only; then the handler on the service's strand.
transport::http_handler guarded(std::function<std::shared_ptr<api_hooks>()> owner, handler h) {
  return [owner = std::move(owner), h = std::move(h)](http_request req, http_reply reply) {
    if (!admitted(req, reply, owner)) return;
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
              t.add("GET", path, [file, owner](const http_request& req, const http_reply& reply) {
                if (admitted(req, reply, owner)) reply(console::serve_asset(file));
              });
            }
            return t;
          }()) {}

}  // namespace bettensor::miner::detail
