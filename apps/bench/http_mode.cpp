// The http mode: the same signed predictions through POST /predictions, one request at a time
// per keep-alive connection (HTTP/1.1 has no multiplexing), to show what the WebSocket saves.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include "bettensor/protocol/replay_guard.hpp"
#include "bettensor/protocol/signing.hpp"
#include "common.hpp"

namespace bettensor::bench {

namespace json = boost::json;
namespace http = beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

struct http_state : tally {
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> reconnects{0};  // keep-alive connections the server ended
  std::atomic<int> connected{0};
};

// A request that got no answer is sent again on a new connection this many times at most
// (predictions are idempotent by id, so a resend is harmless).
constexpr int max_resends = 3;

// One POST and its response on an open keep-alive connection; false when the exchange failed
// before a whole response arrived (the server closed the connection, typically).
net::awaitable<bool> exchange(beast::tcp_stream& stream, beast::flat_buffer& buf,
                              const http::request<http::string_body>& req,
                              http::response<http::string_body>& res) {
  if (auto [ec, n] = co_await http::async_write(stream, req, net::as_tuple(net::use_awaitable)); ec)
    co_return false;
  auto [ec, n] = co_await http::async_read(stream, buf, res, net::as_tuple(net::use_awaitable));
  co_return !ec;
}

net::awaitable<void> open(beast::tcp_stream& stream, beast::flat_buffer& buf, const target& to) {
  beast::error_code ignored;
  stream.socket().close(ignored);
  buf.clear();
  co_await stream.async_connect(to.endpoint, net::use_awaitable);
  stream.socket().set_option(tcp::no_delay(true));
}

net::awaitable<void> http_miner(target to, std::vector<std::string> bodies,
                                const validator_key& validator, double verify_sample,
                                http_state& st) {
  beast::tcp_stream stream(co_await net::this_coro::executor);
  beast::flat_buffer buf;
  co_await open(stream, buf, to);
  ++st.connected;
  protocol::replay_guard nonces;
  std::uint64_t sampled = 0;
  for (std::size_t i = 0; i < bodies.size() && !st.done; ++i) {
    http::request<http::string_body> req{http::verb::post, "/predictions", 11};
    req.set(http::field::host, to.host);
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(bodies[i]);
    req.prepare_payload();
    http::response<http::string_body> res;
    // A keep-alive connection may be closed by the server (or a proxy: nginx ends one after
    // keepalive_requests) between two requests; that is normal HTTP, not a failure.
    for (int resends = 0; !co_await exchange(stream, buf, req, res); ++resends) {
      if (resends == max_resends || st.done)
        throw std::runtime_error("no answer after " + std::to_string(resends) + " resends");
      res = {};
      ++st.reconnects;
      co_await open(stream, buf, to);
    }
    if (!res.keep_alive()) {
      ++st.reconnects;
      co_await open(stream, buf, to);
    }
    if (res.result() != http::status::ok) {
      ++st.failed;
      continue;
    }
    // Verify the share asked for, spread evenly over the run.
    if (static_cast<double>(sampled) < verify_sample * static_cast<double>(i + 1)) {
      ++sampled;
      verify_confirmation(res.body(), validator, nonces, st);
    }
    if (st.measuring)
      (res.body().find("\"success\"") != std::string::npos ? st.confirmed : st.rejected)++;
  }
}

}  // namespace

int run_http(const settings& s) {
  world w(s, s.connections);
  constexpr double expected_rate = 8000;  // enough presigned bodies for a fast server
  const auto per_conn =
      static_cast<std::size_t>(expected_rate * (s.duration + 1) / s.connections) + 64;
  std::vector<std::vector<std::string>> pools(w.miners().size());
  for (std::size_t i = 0; i < w.miners().size(); ++i)
    for (std::size_t n = 0; n < per_conn; ++n)
      pools[i].push_back(prediction_frame(w.miners()[i], n, w.game()));

  http_state st;
  net::io_context ioc(1);
  for (std::size_t i = 0; i < pools.size(); ++i)
    net::co_spawn(
        ioc, http_miner(w.where(), std::move(pools[i]), w.validator(), s.verify_sample, st),
        [&st](const std::exception_ptr& e) {
          if (e && !st.done) {
            ++st.failed;
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& x) {
              std::cerr << "bettensor-bench: HTTP connection failed: " << x.what() << '\n';
            }
          }
        });
  double elapsed = 0;
  double server_cpu = 0;
  double client_cpu = 0;
  std::thread driver([&] {
    // Measure once every connection is open (a failed one ends the run with an error).
    while (st.connected + static_cast<int>(st.failed) < s.connections)
      std::this_thread::sleep_for(5ms);
    const double server0 = w.server_cpu_seconds();
    const double client0 = own_cpu_seconds();
    const auto t0 = steady::now();
    st.measuring = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(s.duration));
    st.measuring = false;
    elapsed = std::chrono::duration<double>(steady::now() - t0).count();
    server_cpu = w.server_cpu_seconds() - server0;
    client_cpu = own_cpu_seconds() - client0;
    st.done = true;
  });
  ioc.run();
  driver.join();

  const auto n = static_cast<double>(st.confirmed + st.rejected);
  const double per = n > 0 ? server_cpu / n * 1e6 : 0;
  const double cores = server_cpu / elapsed;
  std::printf(
      "\nhttp: %d keep-alive connections, one POST /predictions at a time each, %.1f s (method: "
      "the\nsame presigned predictions as the WebSocket modes; confirmations counted while "
      "measuring)\n",
      s.connections, elapsed);
  std::printf("  %-32s %12.0f\n", "confirmed predictions/s", n / elapsed);
  std::printf("  %-32s %12llu\n", "accepted", static_cast<unsigned long long>(st.confirmed));
  std::printf(
      "  %-32s %12llu\n", "rejected or failed",
      static_cast<unsigned long long>(st.rejected) + static_cast<unsigned long long>(st.failed));
  std::printf("  %-32s %12s\n", "server CPU µs per prediction", figure(per, 1).c_str());
  std::printf("  %-32s %12s\n", "server cores busy", figure(cores, 2).c_str());
  std::printf("  %-32s %12.2f\n", "load generator cores busy", client_cpu / elapsed);
  std::printf("  %-32s %12llu\n", "connections reopened",
              static_cast<unsigned long long>(st.reconnects));
  std::printf("  %-32s %12s\n", "confirmations verified (sample)", sample_text(st).c_str());
  write_json(s, json::object{{"mode", "http"},
                             {"connections", s.connections},
                             {"seconds", elapsed},
                             {"rate", n / elapsed},
                             {"accepted", st.confirmed.load()},
                             {"rejected", st.rejected.load()},
                             {"failed", st.failed.load()},
                             {"reconnects", st.reconnects.load()},
                             {"server_cpu_us_per_prediction", json_figure(per)},
                             {"server_cores", json_figure(cores)},
                             {"client_cores", client_cpu / elapsed}});
  return st.bad == 0 && st.failed == 0 && st.rejected == 0 && st.confirmed > 0 ? 0 : 1;
}

}  // namespace bettensor::bench
