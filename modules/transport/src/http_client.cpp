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

// How an exchange ended: a response, or the reason there is none. `unanswered` means the server
// closed the connection before a byte of a response arrived, so the request may be sent again.
struct exchange_result {
  http_post_result result;
  bool unanswered = false;
};

bool closed_by_peer(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe;
}

// The request and its response on a connected stream (plain or TLS).
template <class Stream>
net::awaitable<exchange_result> exchange(Stream& stream, const http_post_request& req) {
  http::request<http::string_body> request{http::verb::post, req.target, 11};
  request.set(http::field::host, req.host + ":" + std::to_string(req.port));
  request.set(http::field::content_type, req.content_type);
  request.body() = req.body;
  request.prepare_payload();
  if (auto [ec, n] = co_await http::async_write(stream, request, use_nothrow); ec)
    co_return exchange_result{{"cannot send the request: " + ec.message(), 0, {}},
                              closed_by_peer(ec)};

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(req.max_response_bytes);
  if (auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow); ec)
    co_return exchange_result{{"no response: " + ec.message(), 0, {}},
                              closed_by_peer(ec) && !parser.got_some()};
  auto response = parser.release();
  co_return exchange_result{{{}, response.result_int(), std::move(response.body())}};
}

// One connection: connect, (TLS,) send, read.
net::awaitable<exchange_result> attempt(const http_post_request& req,
                                        const tcp::resolver::results_type& endpoints,
                                        beast::tcp_stream stream) {
  if (auto [ec, ep] = co_await stream.async_connect(endpoints, use_nothrow); ec)
    co_return exchange_result{{"cannot connect: " + ec.message(), 0, {}}};
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
    co_return exchange_result{{tls_failure(secure, ec, req.tls_ca_file), 0, {}}};
  auto result = co_await exchange(secure, req);
  co_await secure.async_shutdown(use_nothrow);  // bounded by the request's deadline
  co_return result;
}

net::awaitable<http_post_result> post(http_post_request req) {
  const auto ex = co_await net::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + req.timeout;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(req.host, std::to_string(req.port), use_nothrow);
  if (rec) co_return http_post_result{"cannot resolve " + req.host + ": " + rec.message(), 0, {}};
  // A server (or a proxy in front of it) may close a connection before answering: that is
  // normal HTTP, and the request is sent once more on a new connection within the same deadline.
  // A prediction is idempotent by id, so a resend never stores it twice.
  exchange_result r;
  for (int tries = 0; tries < 2; ++tries) {
    beast::tcp_stream stream(ex);
    stream.expires_at(deadline);
    r = co_await attempt(req, endpoints, std::move(stream));
    if (!r.unanswered) break;
  }
  co_return std::move(r.result);
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
