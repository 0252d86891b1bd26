// The miner's fallback HTTP client against a loopback server that closes connections the way
// real servers and proxies do.
#include "bettensor/transport/http_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <future>
#include <string>
#include <thread>

namespace bettensor::transport {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// Accepts `drop` connections, reads each request's head and closes without a word; then answers
// the next one with 200 and `body`. Runs on its own thread, blocking; counts the connections.
struct closing_server {
  net::io_context ioc;
  tcp::acceptor acceptor{ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
  int connections = 0;
  std::jthread thread;

  closing_server(int drop, std::string body) {
    thread = std::jthread([this, drop, body = std::move(body)] {
      for (int i = 0; i <= drop; ++i) {
        tcp::socket s(ioc);
        acceptor.accept(s);
        ++connections;
        net::streambuf head;
        net::read_until(s, head, "\r\n\r\n");
        if (i < drop) continue;  // closed by the socket's destructor: no answer at all
        const std::string res =
            "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nConnection: close\r\n\r\n" + body;
        net::write(s, net::buffer(res));
      }
    });
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
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
  server.thread.join();
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.body, "confirmed");
  EXPECT_EQ(server.connections, 2);
}

TEST(HttpClient, GivesUpAfterTheSecondUnansweredConnection) {
  closing_server server(2, "never read");
  const auto r = post_to(server.port());
  EXPECT_NE(r.error.find("no response"), std::string::npos) << r.error;
  EXPECT_EQ(r.status, 0U);
  // The third connection (answered) is not made by the client: end the server with it.
  post_to(server.port());
  server.thread.join();
  EXPECT_EQ(server.connections, 3);
}

}  // namespace
}  // namespace bettensor::transport
