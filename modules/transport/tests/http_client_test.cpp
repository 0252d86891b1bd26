// The miner's fallback HTTP client against a loopback server that closes connections the way
// real servers and proxies do.
#include "bettensor/transport/http_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

namespace bettensor::transport {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// Accepts connections on loopback; reads each request's head, closes the first `drop` without
// a word and answers the next ones with 200 and `body`. Runs on its own thread until destroyed.
class closing_server {
 public:
  closing_server(int drop, std::string body) : drop_(drop), body_(std::move(body)) {
    accept_next();
    thread_ = std::jthread([this] { ioc_.run_for(std::chrono::seconds(60)); });
  }
  ~closing_server() { ioc_.stop(); }  // the jthread then joins
  closing_server(const closing_server&) = delete;
  closing_server& operator=(const closing_server&) = delete;

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int connections() const { return connections_.load(); }

 private:
  void accept_next() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      const int n = connections_++;
      auto socket = std::make_shared<tcp::socket>(std::move(s));
      auto head = std::make_shared<net::streambuf>();
      net::async_read_until(*socket, *head, "\r\n\r\n",
                            [this, socket, head, n](boost::system::error_code rec, std::size_t) {
                              if (rec || n < drop_) return;  // closed here: no answer at all
                              answer(socket);
                            });
      accept_next();
    });
  }
  void answer(const std::shared_ptr<tcp::socket>& socket) {
    auto res = std::make_shared<std::string>(
        "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body_.size()) +
        "\r\nConnection: close\r\n\r\n" + body_);
    net::async_write(*socket, net::buffer(*res), [socket, res](auto, auto) {});
  }

  net::io_context ioc_;
  tcp::acceptor acceptor_{ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
  int drop_;
  std::string body_;
  std::atomic<int> connections_{0};
  std::jthread thread_;
};

http_post_result post_to(std::uint16_t port) {
  net::io_context ioc;
  std::promise<http_post_result> done;
  http_post_request req;
  req.host = "127.0.0.1";
  req.port = port;
  req.target = "/predictions";
  req.body = R"({"type": "prediction"})";
  async_http_post(ioc.get_executor(), req, [&](http_post_result r) { done.set_value(r); });
  ioc.run();
  return done.get_future().get();
}

TEST(HttpClient, ResendsOnceWhenTheServerClosedWithoutAnswering) {
  closing_server server(1, "confirmed");
  const auto r = post_to(server.port());
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.body, "confirmed");
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClient, GivesUpAfterTheSecondUnansweredConnection) {
  closing_server server(2, "never read");
  const auto r = post_to(server.port());
  EXPECT_NE(r.error.find("no response"), std::string::npos) << r.error;
  EXPECT_EQ(r.status, 0U);
  EXPECT_EQ(server.connections(), 2);
}

}  // namespace
}  // namespace bettensor::transport
