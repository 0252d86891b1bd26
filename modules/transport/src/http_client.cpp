#include "bettensor/transport/http_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/beast/http.hpp>

#include "asio_support.hpp"
#include "tls_client.hpp"
#include "ws_channel.hpp"

namespace bettensor::transport {

using namespace detail;
namespace http = beast::http;

namespace {

// The request and its response on a connected stream (plain or TLS).
template <class Stream>
net::awaitable<http_post_result> exchange(Stream& stream, http_post_request& req) {
  http::request<http::string_body> request{http::verb::post, req.target, 11};
  request.set(http::field::host, req.host + ":" + std::to_string(req.port));
  request.set(http::field::content_type, req.content_type);
  request.body() = std::move(req.body);
  request.prepare_payload();
  if (auto [ec, n] = co_await http::async_write(stream, request, use_nothrow); ec)
    co_return http_post_result{"cannot send the request: " + ec.message(), 0, {}};

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(req.max_response_bytes);
  if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow); ec)
    co_return http_post_result{"no response: " + ec.message(), 0, {}};
  auto response = parser.release();
  co_return http_post_result{{}, response.result_int(), std::move(response.body())};
}

net::awaitable<http_post_result> post(http_post_request req) {
  const auto ex = co_await net::this_coro::executor;
  tcp::resolver resolver(ex);
  beast::tcp_stream stream(ex);
  stream.expires_after(req.timeout);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(req.host, std::to_string(req.port), use_nothrow);
  if (rec) co_return http_post_result{"cannot resolve " + req.host + ": " + rec.message(), 0, {}};
  if (auto [ec, ep] = co_await stream.async_connect(endpoints, use_nothrow); ec)
    co_return http_post_result{"cannot connect: " + ec.message(), 0, {}};
  beast::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  if (!req.tls) {
    auto result = co_await exchange(stream, req);
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return result;
  }
  auto ctx = make_client_tls(req.tls_ca_file);
  tls_stream secure(std::move(stream), ctx);
  prepare_client_tls(secure, req.host);
  if (auto [ec] = co_await secure.async_handshake(ssl::stream_base::client, use_nothrow); ec)
    co_return http_post_result{tls_failure(secure, ec, req.tls_ca_file), 0, {}};
  auto result = co_await exchange(secure, req);
  co_await secure.async_shutdown(use_nothrow);  // bounded by the request's deadline
  co_return result;
}

}  // namespace

void async_http_post(const net::any_io_executor& ex, http_post_request req,
                     std::function<void(http_post_result)> done) {
  net::co_spawn(ex, post(std::move(req)),
                [done = std::move(done)](const std::exception_ptr& e, http_post_result r) {
                  if (e) {
                    try {
                      std::rethrow_exception(e);
                    } catch (const std::exception& x) {
                      r = http_post_result{std::string("HTTP client failure: ") + x.what(), 0, {}};
                    }
                  }
                  done(std::move(r));
                });
}

}  // namespace bettensor::transport
