// The writer over a real loopback WebSocket: frames that wait go out together, in order, and the
// pongs Beast sends while they are being gathered neither overtake nor split them.
#include "frame_writer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/websocket.hpp>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ws_channel.hpp"

namespace bettensor::transport::detail {
namespace {

using protocol::frame_kind;

frame_ptr text_frame(std::string text) {
  return std::make_shared<const frame>(frame{std::move(text), frame_kind::confirmation});
}

// A server-role channel (run by `ioc` on a thread of its own once started) and a blocking Beast
// client, connected over loopback and past the upgrade.
class Loopback : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::acceptor acceptor(ioc_, {net::ip::address_v4::loopback(), 0});
    client_.next_layer().connect(acceptor.local_endpoint());
    beast::tcp_stream accepted(acceptor.accept());
    accepted.socket().set_option(tcp::no_delay(true));  // as the listener sets it
    client_.next_layer().set_option(tcp::no_delay(true));
    ws_settings settings;
    settings.server = true;
    server_ = make_ws_channel(std::move(accepted), settings);
    std::thread client([this] { client_.handshake("127.0.0.1", "/ws"); });
    net::co_spawn(
        ioc_,
        [this]() -> net::awaitable<void> {
          beast::flat_buffer buffer;
          beast::http::request<beast::http::string_body> req;
          auto [ec, n] = co_await beast::http::async_read(server_->tcp(), buffer, req, use_nothrow);
          EXPECT_FALSE(ec) << ec.message();
          auto [accepted_ec] = co_await server_->accept(req);
          EXPECT_FALSE(accepted_ec) << accepted_ec.message();
        },
        net::detached);
    ioc_.run();
    ioc_.restart();
    client.join();
  }

  // Starts the writer (and, with `reading`, a server read loop, which answers pings) on the
  // server's thread; each write's frame count goes to writes_.
  void start(bool reading) {
    net::co_spawn(
        ioc_,
        [this]() -> net::awaitable<void> {
          co_await writer_.run(
              *server_, [] {},
              [this](std::span<const frame_ptr> frames, double /*cpu*/) {
                writes_.push_back(frames.size());
              });
        },
        net::detached);
    if (reading) {
      net::co_spawn(
          ioc_,
          [this]() -> net::awaitable<void> {
            beast::flat_buffer buffer;
            for (;;) {
              auto [ec, n] = co_await server_->read(buffer);
              if (ec) break;
              buffer.clear();
            }
            writer_.stop();
          },
          net::detached);
    }
    server_thread_ = std::thread([this] { ioc_.run(); });
  }

  void stop() {
    net::post(ioc_, [this] { writer_.stop(); });
    server_thread_.join();
  }

  std::string read() {
    beast::flat_buffer b;
    client_.read(b);
    return beast::buffers_to_string(b.data());
  }

  net::io_context ioc_;
  net::io_context client_ioc_;
  websocket::stream<tcp::socket> client_{client_ioc_};
  std::unique_ptr<ws_channel> server_;
  frame_writer writer_{ioc_.get_executor(), 10'000};
  std::vector<std::size_t> writes_;  // only touched on the server's thread until joined
  std::thread server_thread_;
};

TEST_F(Loopback, FramesThatWaitGoOutInOneWriteInOrder) {
  std::vector<std::string> sent(10);
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = "frame " + std::to_string(i);
  sent[4].clear();                     // an empty message is still a message
  sent[7] = std::string(20'000, 'x');  // a game update's size
  for (const auto& s : sent) ASSERT_EQ(writer_.push(text_frame(s)), frame_writer::pushed::queued);
  start(false);
  for (const auto& s : sent) EXPECT_EQ(read(), s);
  stop();
  EXPECT_EQ(writes_, std::vector<std::size_t>{10});
}

TEST_F(Loopback, PingsDuringGatheredWritesAreAnsweredAndFramesStayWhole) {
  int pongs = 0;
  client_.control_callback([&pongs](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::pong) ++pongs;
  });
  start(true);
  constexpr int rounds = 200;
  constexpr int per_round = 5;
  std::vector<std::string> received;
  received.reserve(std::size_t{rounds} * per_round);
  for (int r = 0; r < rounds; ++r) {
    client_.ping("p");
    net::post(ioc_, [this, r] {
      for (int i = 0; i < per_round; ++i) {
        // Every fifth frame large enough to need more than one socket write.
        const std::string text = "round " + std::to_string(r) + " frame " + std::to_string(i);
        writer_.push(text_frame(i == 4 ? text + std::string(100'000, '.') : text));
      }
    });
    for (int i = 0; i < per_round; ++i) received.push_back(read());
  }
  client_.close(websocket::close_code::normal);  // reads the pongs still on their way
  server_thread_.join();
  EXPECT_EQ(pongs, rounds);
  ASSERT_EQ(received.size(), static_cast<std::size_t>(rounds * per_round));
  for (int r = 0; r < rounds; ++r) {
    for (int i = 0; i < per_round; ++i) {
      const std::string text = "round " + std::to_string(r) + " frame " + std::to_string(i);
      EXPECT_EQ(received[static_cast<std::size_t>(r * per_round + i)],
                i == 4 ? text + std::string(100'000, '.') : text);
    }
  }
  std::size_t frames = 0;
  for (const auto n : writes_) frames += n;
  EXPECT_EQ(frames, static_cast<std::size_t>(rounds * per_round));
}

}  // namespace
}  // namespace bettensor::transport::detail
