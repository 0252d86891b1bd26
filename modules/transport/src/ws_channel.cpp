// The channel over both stream types, instantiated for each in this one file: Beast's WebSocket
// stream is the largest template the module uses, and compiling it here once costs less than the
// listener and the link each compiling it for both streams (or one file per operation).
#include <boost/asio/post.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "bettensor/metrics/metrics.hpp"
#include "ws_channel.hpp"

namespace bettensor::transport::detail {

namespace {

// Plain TCP whose WebSocket teardown only ends our sending side. Beast's own teardown reads once
// and closes the socket: a peer still sending (the rest of an oversized message) then gets a
// reset, and its kernel discards the close frame we sent before it. The channel's owner reads
// and drops what the peer still sends, for a bounded time, before closing (see ws_session::run).
//
// It can also gather: while gathering, what the WebSocket stream above writes (whole frames,
// a pong it answers meanwhile) is appended to a buffer and completed at once, in order, and the
// owner sends the buffer in one write. The buffer is taken by each send, so an idle connection
// holds none.
class lingering_tcp : public beast::tcp_stream {
 public:
  explicit lingering_tcp(beast::tcp_stream&& s) : beast::tcp_stream(std::move(s)) {}

  // Hides tcp_stream's: the WebSocket stream's writes come through here.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return net::async_initiate<Token, void(beast::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (!gathering_) {
            beast::tcp_stream::async_write_some(b, std::move(handler));
            return;
          }
          const std::size_t n = net::buffer_size(b);
          const std::size_t at = gathered_.size();
          gathered_.resize(at + n);
          net::buffer_copy(net::buffer(gathered_.data() + at, n), b);
          net::post(get_executor(),
                    beast::bind_front_handler(std::move(handler), beast::error_code{}, n));
        },
        token, buffers);
  }

  void start_gathering() { gathering_ = true; }
  [[nodiscard]] bool has_gathered() const { return !gathered_.empty(); }
  // What was gathered so far; writes after this gather anew until stop_gathering().
  std::string take_gathered() { return std::exchange(gathered_, {}); }
  // Back to writing through; anything not taken is dropped (after a failed write).
  void stop_gathering() {
    gathering_ = false;
    gathered_ = {};
  }

 private:
  bool gathering_ = false;
  std::string gathered_;
};

// Found by argument-dependent lookup from Beast's close and failure paths.
template <class Handler>
void async_teardown(beast::role_type /*role*/, lingering_tcp& s, Handler&& handler) {
  beast::error_code ec;
  s.socket().shutdown(tcp::socket::shutdown_send, ec);
  net::post(s.get_executor(), beast::bind_front_handler(std::forward<Handler>(handler), ec));
}

}  // namespace

// A completion token that adds the thread CPU seconds of an operation's initiation to *out.
template <class Token>
struct timed_initiation {
  Token token;
  double* out;
};

}  // namespace bettensor::transport::detail

template <class Token, class... Signatures>
struct boost::asio::async_result<bettensor::transport::detail::timed_initiation<Token>,
                                 Signatures...> {
  template <class Initiation, class Timed, class... Args>
  static auto initiate(Initiation&& init, Timed&& timed, Args&&... args) {
    return boost::asio::async_initiate<Token, Signatures...>(
        [init = std::forward<Initiation>(init), out = timed.out](auto&& handler,
                                                                 auto&&... a) mutable {
          const double t0 = bettensor::metrics::thread_cpu_seconds();
          std::move(init)(std::forward<decltype(handler)>(handler),
                          std::forward<decltype(a)>(a)...);
          *out += bettensor::metrics::thread_cpu_seconds() - t0;
        },
        timed.token, std::forward<Args>(args)...);
  }
};

namespace bettensor::transport::detail {

namespace {

template <class Next>
class ws_channel_over final : public ws_channel {
 public:
  ws_channel_over(Next&& next, const ws_settings& s) : ws_(std::move(next)) {
    websocket::stream_base::timeout t{};
    t.handshake_timeout = s.handshake_timeout;
    t.idle_timeout = websocket::stream_base::none();  // silence is the owner's watchdog's job
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.read_message_max(s.read_message_max);
    if (s.deflate) ws_.set_option(*s.deflate);
    if (s.server) {
      ws_.auto_fragment(false);
      ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(beast::http::field::server, "bettensor-validator");
      }));
    }
  }

  net::awaitable<op_result> accept(beast::http::request<beast::http::string_body>& req) override {
    co_return co_await ws_.async_accept(req, use_nothrow);
  }
  net::awaitable<op_result> handshake(std::string host, std::string target) override {
    co_return co_await ws_.async_handshake(host, target, use_nothrow);
  }
  net::awaitable<io_result> read(beast::flat_buffer& buffer) override {
    co_return co_await ws_.async_read(buffer, use_nothrow);
  }
  net::awaitable<io_result> write(net::const_buffer data, double* initiation_cpu) override {
    if (initiation_cpu == nullptr) co_return co_await ws_.async_write(data, use_nothrow);
    co_return co_await ws_.async_write(
        data, timed_initiation<std::decay_t<decltype(use_nothrow)>>{use_nothrow, initiation_cpu});
  }
  net::awaitable<io_result> write_all(std::span<const net::const_buffer> messages,
                                      double* initiation_cpu) override {
    std::size_t total = 0;
    if constexpr (std::is_same_v<Next, lingering_tcp>) {
      if (messages.size() > 1) co_return co_await write_gathered(messages, initiation_cpu);
    }
    for (const auto& m : messages) {
      auto [ec, n] = co_await write(m, initiation_cpu);
      total += n;
      if (ec) co_return io_result{ec, total};
    }
    co_return io_result{beast::error_code{}, total};
  }
  net::awaitable<op_result> close(websocket::close_reason why) override {
    co_return co_await ws_.async_close(why, use_nothrow);
  }
  [[nodiscard]] bool got_text() const override { return ws_.got_text(); }
  void on_control(std::function<void()> cb) override {
    ws_.control_callback([cb = std::move(cb)](websocket::frame_type /*kind*/,
                                              beast::string_view /*payload*/) { cb(); });
  }
  [[nodiscard]] std::size_t readable_now() override {
    beast::error_code ec;
    const std::size_t n = beast::get_lowest_layer(ws_).socket().available(ec);
    return ec ? 0 : n;
  }
  [[nodiscard]] const websocket::close_reason& reason() const override { return ws_.reason(); }
  beast::tcp_stream& tcp() override { return beast::get_lowest_layer(ws_); }
  net::any_io_executor executor() override { return ws_.get_executor(); }

 private:
  // The messages framed by Beast into the stream's buffer, then sent in one write (more than
  // one when Beast answered a ping during that write).
  net::awaitable<io_result> write_gathered(std::span<const net::const_buffer> messages,
                                           double* initiation_cpu) {
    auto& next = ws_.next_layer();
    next.start_gathering();
    std::size_t total = 0;
    for (const auto& m : messages) {
      auto [ec, n] = co_await write(m, initiation_cpu);
      total += n;
      if (ec) {
        next.stop_gathering();
        co_return io_result{ec, total};
      }
    }
    beast::error_code failed;
    while (!failed && next.has_gathered()) {
      const std::string out = next.take_gathered();
      auto& tcp = static_cast<beast::tcp_stream&>(next);
      auto [ec, n] =
          initiation_cpu == nullptr
              ? co_await net::async_write(tcp, net::buffer(out), use_nothrow)
              : co_await net::async_write(tcp, net::buffer(out),
                                          timed_initiation<std::decay_t<decltype(use_nothrow)>>{
                                              use_nothrow, initiation_cpu});
      failed = ec;
    }
    next.stop_gathering();
    co_return io_result{failed, total};
  }

  websocket::stream<Next> ws_;
};

}  // namespace

std::unique_ptr<ws_channel> make_ws_channel(beast::tcp_stream&& next, const ws_settings& s) {
  return std::make_unique<ws_channel_over<lingering_tcp>>(lingering_tcp(std::move(next)), s);
}

std::unique_ptr<ws_channel> make_ws_channel(tls_stream&& next, const ws_settings& s) {
  return std::make_unique<ws_channel_over<tls_stream>>(std::move(next), s);
}

}  // namespace bettensor::transport::detail
