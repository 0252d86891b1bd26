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

struct http_state {
  std::atomic<std::uint64_t> confirmed{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> verified{0};
  std::atomic<std::uint64_t> bad{0};
  std::atomic<bool> measuring{false};
  std::atomic<bool> done{false};
};

net::awaitable<void> http_miner(std::uint16_t port, std::vector<std::string> bodies,
                                const crypto::hotkey& validator, double verify_sample,
                                http_state& st) {
  beast::tcp_stream stream(co_await net::this_coro::executor);
  co_await stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                                net::use_awaitable);
  stream.socket().set_option(tcp::no_delay(true));
  protocol::replay_guard nonces;
  beast::flat_buffer buf;
  std::uint64_t sampled = 0;
  for (std::size_t i = 0; i < bodies.size() && !st.done; ++i) {
    http::request<http::string_body> req{http::verb::post, "/predictions", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(bodies[i]);
    req.prepare_payload();
    co_await http::async_write(stream, req, net::use_awaitable);
    http::response<http::string_body> res;
    co_await http::async_read(stream, buf, res, net::use_awaitable);
    if (res.result() != http::status::ok) {
      ++st.failed;
      continue;
    }
    // Verify the share asked for, spread evenly over the run.
    if (static_cast<double>(sampled) < verify_sample * static_cast<double>(i + 1)) {
      ++sampled;
      const protocol::frame_expectations expect{validator.ss58,
                                                &validator.keypair.public_key_bytes(),
                                                protocol::now_utc(), 300s, &nonces};
      (protocol::open_envelope(res.body(), expect) ? st.verified : st.bad)++;
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
        ioc, http_miner(w.port(), std::move(pools[i]), w.validator(), s.verify_sample, st),
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
    std::this_thread::sleep_for(300ms);  // connections open and warm
    const double server0 = cpu_seconds(w.server_pid());
    const double client0 = own_cpu_seconds();
    const auto t0 = steady::now();
    st.measuring = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(s.duration));
    st.measuring = false;
    elapsed = std::chrono::duration<double>(steady::now() - t0).count();
    server_cpu = cpu_seconds(w.server_pid()) - server0;
    client_cpu = own_cpu_seconds() - client0;
    st.done = true;
  });
  ioc.run();
  driver.join();

  const auto n = static_cast<double>(st.confirmed + st.rejected);
  const double per = n > 0 ? server_cpu / n : 0;
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
  std::printf("  %-32s %12.1f\n", "server CPU µs per prediction", per * 1e6);
  std::printf("  %-32s %12.2f\n", "server cores busy", server_cpu / elapsed);
  std::printf("  %-32s %12.2f\n", "load generator cores busy", client_cpu / elapsed);
  std::printf(
      "  %-32s %9llu/%llu\n", "confirmations verified (sample)",
      static_cast<unsigned long long>(st.verified.load()),
      static_cast<unsigned long long>(st.verified) + static_cast<unsigned long long>(st.bad));
  write_json(s, json::object{{"mode", "http"},
                             {"connections", s.connections},
                             {"seconds", elapsed},
                             {"rate", n / elapsed},
                             {"accepted", st.confirmed.load()},
                             {"rejected", st.rejected.load()},
                             {"failed", st.failed.load()},
                             {"server_cpu_us_per_prediction", per * 1e6},
                             {"server_cores", server_cpu / elapsed},
                             {"client_cores", client_cpu / elapsed}});
  return st.bad == 0 && st.failed == 0 && st.rejected == 0 && st.confirmed > 0 ? 0 : 1;
}

}  // namespace bettensor::bench
