#include "bettensor/transport/json_rpc_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/throw_exception.hpp>

#include <charconv>
#include <optional>
#include <stdexcept>

#include "tls_client.hpp"
#include "ws_channel.hpp"

namespace bettensor::transport {

using namespace detail;  // NOLINT(google-build-using-namespace): the module's own aliases
namespace json = boost::json;

void throw_exception_from_error(const rpc_error& e, const boost::source_location& loc) {
  boost::throw_exception(std::runtime_error(e.message), loc);
}

boost::system::result<rpc_url, std::string> parse_rpc_url(std::string_view text) {
  rpc_url url;
  std::string_view rest = text;
  if (rest.starts_with("wss://")) {
    url.tls = true;
    rest.remove_prefix(6);
  } else if (rest.starts_with("ws://")) {
    rest.remove_prefix(5);
  } else {
    return std::string("expected ws://host:port or wss://host:port, got \"") + std::string(text) +
           "\"";
  }
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    url.path = std::string(rest.substr(slash));
    rest = rest.substr(0, slash);
  }
  std::string_view port;
  if (rest.starts_with('[')) {  // [IPv6]:port
    const auto close = rest.find(']');
    if (close == std::string_view::npos)
      return std::string("unclosed [ in \"") + std::string(text) + "\"";
    url.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (rest.starts_with(':'))
      port = rest.substr(1);
    else if (!rest.empty())
      return std::string("unexpected text after ] in \"") + std::string(text) + "\"";
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    url.host = std::string(rest.substr(0, colon));
    port = rest.substr(colon + 1);
  } else {
    url.host = std::string(rest);
  }
  if (url.host.empty()) return std::string("no host in \"") + std::string(text) + "\"";
  if (port.empty()) {
    url.port = url.tls ? 443 : 80;
  } else {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      return std::string("bad port in \"") + std::string(text) + "\"";
    url.port = static_cast<std::uint16_t>(value);
  }
  return url;
}

std::string to_string(const rpc_url& url) {
  const bool v6 = url.host.find(':') != std::string::npos;
  return std::string(url.tls ? "wss://" : "ws://") + (v6 ? "[" + url.host + "]" : url.host) + ":" +
         std::to_string(url.port) + url.path;
}

struct json_rpc_client::impl {
  impl(const net::any_io_executor& ex, rpc_config c) : executor(ex), cfg(std::move(c)) {
    if (cfg.url.tls) tls.emplace(make_client_tls(cfg.tls_ca_file));
    settings.handshake_timeout = std::chrono::ceil<std::chrono::seconds>(
        std::max(cfg.timeout, std::chrono::milliseconds{1000}));
    settings.read_message_max = cfg.max_message_bytes;
  }

  rpc_error fail(rpc_failure kind, std::string message) {
    drop();
    return {kind, to_string(cfg.url) + ": " + std::move(message)};
  }

  void close() {
    ++closes;
    drop();
  }

  void drop() {
    if (!ws) return;
    beast::error_code ignored;
    ws->tcp().socket().close(ignored);
    ws.reset();
  }

  // Opens the connection; an error when it could not.
  net::awaitable<std::optional<rpc_error>> open() {
    tcp::resolver resolver(executor);
    beast::tcp_stream stream(executor);
    stream.expires_after(cfg.timeout);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(cfg.url.host, std::to_string(cfg.url.port), use_nothrow);
    if (rec) co_return fail(rpc_failure::unreachable, "cannot resolve: " + rec.message());
    auto [cec, ep] = co_await stream.async_connect(endpoints, use_nothrow);
    if (cec) {
      co_return fail(cec == beast::error::timeout ? rpc_failure::timeout : rpc_failure::unreachable,
                     "cannot connect: " + cec.message());
    }
    beast::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    if (tls) {
      tls_stream secure(std::move(stream), *tls);
      prepare_client_tls(secure, cfg.url.host);
      auto [tec] = co_await secure.async_handshake(ssl::stream_base::client, use_nothrow);
      if (tec) co_return fail(rpc_failure::unreachable, tls_failure(secure, tec, cfg.tls_ca_file));
      ws = make_ws_channel(std::move(secure), settings);
    } else {
      ws = make_ws_channel(std::move(stream), settings);
    }
    const std::string host = cfg.url.host + ":" + std::to_string(cfg.url.port);
    const std::shared_ptr<ws_channel> channel = ws;  // alive should close() drop it meanwhile
    auto [hec] = co_await channel->handshake(host, cfg.url.path);
    if (hec)
      co_return fail(rpc_failure::unreachable, "WebSocket handshake failed: " + hec.message());
    co_return std::nullopt;
  }

  // After each wait, a close() made meanwhile (a stop, from the owner's strand) ends the call: the
  // connection it waited on is gone, whatever the wait itself returned.
  net::awaitable<rpc_result<json::value>> call(std::string method, json::array params) {
    const std::uint64_t epoch = closes;
    if (!ws) {
      auto failed = co_await open();
      if (closes != epoch) co_return closed_under(method);
      if (failed) co_return *failed;
    }
    const std::shared_ptr<ws_channel> channel = ws;
    const std::uint64_t id = ++last_id;
    json::object request;
    request["jsonrpc"] = "2.0";
    request["id"] = id;
    request["method"] = method;
    request["params"] = std::move(params);
    const std::string text = json::serialize(request);
    channel->tcp().expires_after(cfg.timeout);
    auto [wec, written] = co_await channel->write(net::buffer(text));
    if (closes != epoch) co_return closed_under(method);
    if (wec) co_return failure_of(wec, "cannot send " + method);
    beast::flat_buffer buffer;
    for (;;) {
      buffer.clear();
      auto [rec, n] = co_await channel->read(buffer);
      if (closes != epoch) co_return closed_under(method);
      if (rec) co_return failure_of(rec, "no answer to " + method);
      boost::system::error_code pec;
      const auto answer = json::parse(beast::buffers_to_string(buffer.data()), pec);
      const auto* o = pec ? nullptr : answer.if_object();
      if (o == nullptr)
        co_return fail(rpc_failure::malformed, method + ": the answer is not a JSON object");
      const auto* got = o->if_contains("id");
      if (got == nullptr || got->is_null()) {
        if (o->contains("error")) co_return error_of(method, o->at("error"));
        continue;  // a notification
      }
      const auto* number = got->if_uint64();
      const auto* signed_number = got->if_int64();
      const bool same = (number != nullptr && *number == id) ||
                        (signed_number != nullptr && *signed_number >= 0 &&
                         static_cast<std::uint64_t>(*signed_number) == id);
      if (!same) continue;  // an answer to an earlier, abandoned call
      channel->tcp().expires_never();
      if (const auto* e = o->if_contains("error")) co_return error_of(method, *e);
      const auto* result = o->if_contains("result");
      if (result == nullptr)
        co_return fail(rpc_failure::malformed, method + ": the answer has no result");
      co_return *result;
    }
  }

  rpc_error closed_under(const std::string& method) {
    return fail(rpc_failure::unreachable, method + ": the connection was closed while waiting");
  }

  rpc_error failure_of(const beast::error_code& ec, const std::string& what) {
    if (ec == beast::error::timeout) return fail(rpc_failure::timeout, what + ": timed out");
    if (ec == websocket::error::message_too_big)
      return fail(rpc_failure::malformed, what + ": the answer is larger than " +
                                              std::to_string(cfg.max_message_bytes) + " bytes");
    return fail(rpc_failure::unreachable, what + ": " + ec.message());
  }

  rpc_error error_of(const std::string& method, const json::value& e) {
    std::string text = json::serialize(e);
    if (const auto* o = e.if_object()) {
      if (const auto* m = o->if_contains("message"); m && m->is_string())
        text = std::string(m->get_string());
      if (const auto* c = o->if_contains("code"); c && c->is_int64())
        text = std::to_string(c->get_int64()) + " " + text;
    }
    // The connection is fine: keep it.
    return {rpc_failure::rpc_error, to_string(cfg.url) + ": " + method + ": " + text};
  }

  net::any_io_executor executor;
  rpc_config cfg;
  std::optional<ssl::context> tls;
  ws_settings settings;
  std::shared_ptr<ws_channel> ws;
  std::uint64_t last_id = 0;
  std::uint64_t closes = 0;  // close() calls so far
};

json_rpc_client::json_rpc_client(const net::any_io_executor& ex, rpc_config cfg)
    : impl_(std::make_unique<impl>(ex, std::move(cfg))) {}

json_rpc_client::~json_rpc_client() = default;

net::awaitable<rpc_result<json::value>> json_rpc_client::call(std::string method,
                                                              json::array params) {
  co_return co_await impl_->call(std::move(method), std::move(params));
}

void json_rpc_client::close() {
  impl_->close();
}

}  // namespace bettensor::transport
