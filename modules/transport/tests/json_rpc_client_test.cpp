// The node client against an in-process WebSocket node: a close() from the owner's strand while a
// call waits (a stop, as the metagraph sync makes) ends that call and leaves the client usable.
#include "bettensor/transport/json_rpc_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace bettensor::transport {
namespace {

namespace net = boost::asio;
namespace json = boost::json;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

// Serves JSON-RPC on loopback from its own thread. Request k (counted from 0 over all
// connections) gets {"result":k} unless `silent(k)`; `before_answer(k)` runs just before.
class scripted_node {
 public:
  explicit scripted_node(std::function<bool(std::uint64_t)> silent,
                         std::function<void(std::uint64_t)> before_answer = {})
      : silent_(std::move(silent)), before_answer_(std::move(before_answer)) {
    net::co_spawn(ioc_, accept_loop(), net::detached);
    thread_ = std::jthread([this] { ioc_.run_for(60s); });
  }
  ~scripted_node() { ioc_.stop(); }  // the jthread then joins
  scripted_node(const scripted_node&) = delete;
  scripted_node& operator=(const scripted_node&) = delete;

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int connections() const { return connections_.load(); }
  void wait_for_requests(std::uint64_t n) {
    std::unique_lock lock(mutex_);
    got_.wait_for(lock, 30s, [&] { return requests_ >= n; });
  }

 private:
  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
      if (ec) co_return;
      ++connections_;
      net::co_spawn(ioc_, serve(std::move(socket)), net::detached);
    }
  }

  net::awaitable<void> serve(tcp::socket socket) {
    websocket::stream<tcp::socket> ws(std::move(socket));
    if (auto [ec] = co_await ws.async_accept(use_nothrow); ec) co_return;
    for (;;) {
      boost::beast::flat_buffer buffer;
      if (auto [ec, n] = co_await ws.async_read(buffer, use_nothrow); ec) co_return;
      const auto request = json::parse(boost::beast::buffers_to_string(buffer.data())).as_object();
      std::uint64_t k = 0;
      {
        std::lock_guard lock(mutex_);
        k = requests_++;
      }
      got_.notify_all();
      if (silent_(k)) continue;
      if (before_answer_) before_answer_(k);
      const std::string answer = json::serialize(
          json::object{{"jsonrpc", "2.0"}, {"id", request.at("id")}, {"result", k}});
      if (auto [ec, n] = co_await ws.async_write(net::buffer(answer), use_nothrow); ec) co_return;
    }
  }

  std::function<bool(std::uint64_t)> silent_;
  std::function<void(std::uint64_t)> before_answer_;
  net::io_context ioc_;
  tcp::acceptor acceptor_{ioc_, {net::ip::address_v4::loopback(), 0}};
  std::atomic<int> connections_{0};
  std::mutex mutex_;
  std::condition_variable got_;
  std::uint64_t requests_ = 0;
  std::jthread thread_;
};

rpc_config config_for(std::uint16_t port) {
  rpc_config c;
  c.url = *parse_rpc_url("ws://127.0.0.1:" + std::to_string(port));
  c.timeout = 30s;  // longer than any test: only a close ends a call waiting on a silent node
  return c;
}

void rethrow(const std::exception_ptr& e) {
  if (e) std::rethrow_exception(e);
}

constexpr const char* closed_text = "the connection was closed while waiting";

TEST(JsonRpcClientTest, ACloseWhileACallWaitsEndsItAndTheNextCallReconnects) {
  scripted_node node([](std::uint64_t k) { return k == 0; });  // the first request goes unanswered
  net::io_context ioc;
  json_rpc_client client(ioc.get_executor(), config_for(node.port()));
  std::vector<rpc_result<json::value>> got;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        got.push_back(co_await client.call("first", {}));
        got.push_back(co_await client.call("second", {}));
      },
      rethrow);
  const std::jthread closer([&] {
    node.wait_for_requests(1);
    net::post(ioc, [&] { client.close(); });
  });
  ioc.run();

  ASSERT_EQ(got.size(), 2U);
  ASSERT_TRUE(got[0].has_error());
  EXPECT_EQ(got[0].error().kind, rpc_failure::unreachable);
  EXPECT_NE(got[0].error().message.find(std::string("first: ") + closed_text), std::string::npos)
      << got[0].error().message;
  ASSERT_TRUE(got[1].has_value()) << got[1].error().message;
  EXPECT_EQ(*got[1], json::value(1));
  EXPECT_EQ(node.connections(), 2);
}

// The close is posted to the strand just as the node answers: it lands before, between or after
// the answer's read and the call's resumption. Whichever it is, the call ends with its result or
// with the close, and the next call works.
TEST(JsonRpcClientTest, ACloseRacingTheAnswerEndsTheCallCleanly) {
  constexpr int calls = 200;
  net::io_context ioc;
  auto strand = net::make_strand(ioc);
  std::optional<json_rpc_client> client;
  scripted_node node([](std::uint64_t) { return false; },
                     [&](std::uint64_t) { net::post(strand, [&] { client->close(); }); });
  client.emplace(strand, config_for(node.port()));
  int answered = 0;
  int closed = 0;
  std::vector<std::string> others;
  net::co_spawn(
      strand,
      [&]() -> net::awaitable<void> {
        for (int i = 0; i < calls; ++i) {
          auto r = co_await client->call("ping", {});
          if (r.has_value())
            ++answered;
          else if (r.error().kind == rpc_failure::unreachable &&
                   r.error().message.find(closed_text) != std::string::npos)
            ++closed;
          else
            others.push_back(r.error().message);
        }
      },
      rethrow);
  std::jthread second([&] { ioc.run(); });
  ioc.run();
  second.join();

  EXPECT_TRUE(others.empty()) << others.front();
  EXPECT_EQ(answered + closed, calls);
}

}  // namespace
}  // namespace bettensor::transport
