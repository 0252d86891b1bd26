#include "bettensor/test/ws_client.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <cctype>

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <type_traits>

namespace bettensor::test {

void set_receive_timeout(tcp::socket& s, std::chrono::seconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count());
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

ssl::context test_tls_context(const std::filesystem::path& ca) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(ca.string());
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

namespace {

template <class Next>
void tls_connect(Next& next, std::uint16_t port, std::chrono::seconds timeout,
                 const client_extras& x) {
  auto& socket = beast::get_lowest_layer(next);
  boost::asio::connect(
      socket, tcp::resolver(socket.get_executor()).resolve("127.0.0.1", std::to_string(port)));
  socket.set_option(tcp::no_delay(true));
  set_receive_timeout(socket, timeout);
  if constexpr (!std::is_same_v<Next, tcp::socket>) {
    auto* param = ::SSL_get0_param(next.native_handle());
    if (::X509_VERIFY_PARAM_set1_ip_asc(param, x.tls_host.c_str()) != 1)  // not an IP: a name
      ::X509_VERIFY_PARAM_set1_host(param, x.tls_host.c_str(), 0);
    next.handshake(ssl::stream_base::client);
  }
}

}  // namespace

template <class Next>
basic_ws_client<Next>::basic_ws_client(std::uint16_t port, std::chrono::seconds timeout,
                                       const std::string& path, const client_extras& x)
    : timeout_(timeout),
      ctx_(x.tls_ca ? test_tls_context(*x.tls_ca) : ssl::context(ssl::context::tls_client)),
      ws_(make_stream()) {
  tls_connect(ws_.next_layer(), port, timeout, x);
  if (x.deflate) {
    websocket::permessage_deflate pmd;
    pmd.client_enable = true;
    ws_.set_option(pmd);
  }
  ws_.handshake(upgrade_, "127.0.0.1:" + std::to_string(port), path);
}

template <class Next>
void basic_ws_client<Next>::send(const std::string& text) {
  ws_.write(boost::asio::buffer(text));
}

template <class Next>
void basic_ws_client<Next>::send_binary(const std::string& bytes) {
  ws_.binary(true);
  ws_.write(boost::asio::buffer(bytes));
  ws_.text(true);
}

template <class Next>
std::optional<std::string> basic_ws_client<Next>::read() {
  // A socket receive timeout does not bound Asio's blocking reads (they wait again after
  // EAGAIN), so the read runs asynchronously on the client's own context with a deadline.
  beast::flat_buffer buf;
  std::optional<beast::error_code> result;
  ws_.async_read(buf, [&result](beast::error_code e, std::size_t) { result = e; });
  ioc_.restart();
  ioc_.run_for(timeout_);
  if (!result) {
    beast::get_lowest_layer(ws_).cancel();
    ioc_.restart();
    ioc_.run();  // the cancelled read completes
    error_ = boost::asio::error::timed_out;
    return std::nullopt;
  }
  if (const auto ec = *result) {
    error_ = ec;
    return std::nullopt;
  }
  return beast::buffers_to_string(buf.data());
}

template <class Next>
close_info basic_ws_client<Next>::read_until_closed() {
  while (read()) {
  }
  return close_reason();
}

template <class Next>
close_info basic_ws_client<Next>::close_reason() const {
  const auto& r = ws_.reason();
  return {r.code, std::string(r.reason.data(), r.reason.size())};
}

template <class Next>
bool basic_ws_client<Next>::is_open() const {
  return ws_.is_open();
}

template <class Next>
Next& basic_ws_client<Next>::next_layer() {
  return ws_.next_layer();
}

template <class Next>
void basic_ws_client<Next>::close() {
  beast::error_code ec;
  ws_.close(websocket::close_code::normal, ec);
}

template <class Next>
websocket::stream<Next> basic_ws_client<Next>::make_stream() {
  if constexpr (std::is_same_v<Next, tcp::socket>) {
    return websocket::stream<Next>(ioc_);
  } else {
    return websocket::stream<Next>(ioc_, ctx_);
  }
}

template class basic_ws_client<tcp::socket>;
template class basic_ws_client<beast::ssl_stream<tcp::socket>>;

http_result http_request(std::uint16_t port, http::verb method, const std::string& target,
                         const std::string& body, const std::string& authorization,
                         const client_extras& x) {
  boost::asio::io_context ioc;
  const auto exchange = [&](auto& stream) -> http_result {
    tls_connect(stream, port, std::chrono::seconds(10), x);
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, x.host);
    if (!x.origin.empty()) req.set(http::field::origin, x.origin);
    if (!x.content_type.empty()) req.set(http::field::content_type, x.content_type);
    if (!x.cookie.empty()) req.set(http::field::cookie, x.cookie);
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    if (!x.forwarded_for.empty()) req.set("X-Forwarded-For", x.forwarded_for);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    beast::error_code ec;
    http::read(stream, buf, res, ec);
    if (ec) return {0, ec.message(), {}};
    http_result out{res.result_int(), res.body(), {}};
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    return out;
  };
  if (!x.tls_ca) {
    tcp::socket socket(ioc);
    return exchange(socket);
  }
  auto ctx = test_tls_context(*x.tls_ca);
  beast::ssl_stream<tcp::socket> stream(ioc, ctx);
  return exchange(stream);
}

}  // namespace bettensor::test
