// The generic HTTP listener on loopback: routes, 404 and 405, headers of the application's
// choosing, the query, the body limit, keep-alive, and a handler that answers later from
// another thread.
#include "bettensor/transport/http_listener.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <string>
#include <thread>

namespace bettensor::transport {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

class HttpListenerTest : public ::testing::Test {
 protected:
  void start(listener_config cfg = {}) {
    cfg.address = "127.0.0.1";
    cfg.port = 0;
    cfg.server_name = "listener-test";
    route_table routes;
    routes.add("GET", "/hello", [](const http_request& req, const http_reply& reply) {
      http_response res{200, "{\"query\":\"" + req.query + "\"}"};
      res.headers.emplace_back("Cache-Control", "no-store");
      res.headers.emplace_back("X-Frame-Options", "DENY");
      reply(std::move(res));
    });
    routes.add("POST", "/echo", [this](http_request req, http_reply reply) {
      // Answered later, from a thread of its own: the listener resumes on its connection.
      workers_.emplace_back([req = std::move(req), reply = std::move(reply)] {
        reply({201, req.body, "text/plain"});
      });
    });
    listener_.emplace(ioc_, cfg, std::move(routes));
    listener_->start();
    thread_ = std::thread([this] { ioc_.run_for(std::chrono::seconds(60)); });
    client_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), listener_->local_port()));
  }

  void TearDown() override {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
    for (auto& w : workers_) w.join();
  }

  http::response<http::string_body> ask(http::verb method, const std::string& target,
                                        std::string body = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(client_, req);
    http::response<http::string_body> res;
    http::read(client_, buffer_, res);
    return res;
  }

  net::io_context ioc_;
  std::optional<http_listener> listener_;
  std::thread thread_;
  std::vector<std::thread> workers_;
  net::io_context client_ioc_;
  tcp::socket client_{client_ioc_};
  beast::flat_buffer buffer_;
};

TEST_F(HttpListenerTest, RoutesWithHeadersAndQuery) {
  start();
  const auto res = ask(http::verb::get, "/hello?cursor=abc");
  EXPECT_EQ(res.result_int(), 200U);
  EXPECT_EQ(res.body(), "{\"query\":\"cursor=abc\"}");
  EXPECT_EQ(res[http::field::cache_control], "no-store");
  EXPECT_EQ(res["X-Frame-Options"], "DENY");
  EXPECT_EQ(res[http::field::server], "listener-test");
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_TRUE(res.keep_alive());
}

TEST_F(HttpListenerTest, UnknownPathAndWrongMethodOnOneConnection) {
  start();
  auto res = ask(http::verb::get, "/nowhere");
  EXPECT_EQ(res.result_int(), 404U);
  EXPECT_EQ(res.body(), R"({"status":"error","message":"Not found"})");
  res = ask(http::verb::delete_, "/hello");
  EXPECT_EQ(res.result_int(), 405U);
  EXPECT_EQ(res.body(), R"({"status":"error","message":"Method not allowed"})");
  res = ask(http::verb::post, "/echo", "later");  // the same keep-alive connection
  EXPECT_EQ(res.result_int(), 201U);
  EXPECT_EQ(res.body(), "later");
  EXPECT_EQ(res[http::field::content_type], "text/plain");
}

TEST_F(HttpListenerTest, BodyOverTheLimitIs413AndCloses) {
  listener_config cfg;
  cfg.max_http_body_bytes = 16;
  start(cfg);
  const auto res = ask(http::verb::post, "/echo", std::string(17, 'x'));
  EXPECT_EQ(res.result_int(), 413U);
  EXPECT_EQ(res.body(), R"({"status":"error","message":"Request body too large"})");
  EXPECT_FALSE(res.keep_alive());
}

TEST_F(HttpListenerTest, UpgradeWithoutAWebSocketServerIs404) {
  start();
  http::request<http::string_body> req{http::verb::get, "/ws", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::connection, "upgrade");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  req.set(http::field::sec_websocket_version, "13");
  http::write(client_, req);
  http::response<http::string_body> res;
  http::read(client_, buffer_, res);
  EXPECT_EQ(res.result_int(), 404U);
}

TEST(RouteTable, DispatchWithoutASocket) {
  route_table t;
  t.add("", "/any", [](const http_request& req, const http_reply& reply) {
    reply({200, req.method});
  });
  std::string got;
  t.dispatch(http_request{.method = "PATCH", .path = "/any"},
             [&](const http_response& r) { got = std::to_string(r.status) + " " + r.body; });
  EXPECT_EQ(got, "200 PATCH");
  t.dispatch(http_request{.method = "GET", .path = "/none"},
             [&](const http_response& r) { got = std::to_string(r.status); });
  EXPECT_EQ(got, "404");
}

}  // namespace
}  // namespace bettensor::transport
