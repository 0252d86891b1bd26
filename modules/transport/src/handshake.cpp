// The handshake decisions the server makes, kept apart from the socket code so the fuzz targets
// exercise (and are instrumented on) exactly this code.
#include <algorithm>

#include "bettensor/protocol/json.hpp"
#include "bettensor/transport/server.hpp"
#include "client_address.hpp"

namespace bettensor::transport {

namespace detail {

namespace net = boost::asio;

net::ip::address client_behind(const net::ip::address& peer, std::string_view forwarded,
                               const std::vector<net::ip::address>& trusted) {
  const auto is_trusted = [&](const net::ip::address& a) {
    return std::find(trusted.begin(), trusted.end(), a) != trusted.end();
  };
  net::ip::address client = peer;
  if (!is_trusted(client)) return client;
  while (!forwarded.empty()) {
    const auto comma = forwarded.rfind(',');
    std::string_view entry =
        comma == std::string_view::npos ? forwarded : forwarded.substr(comma + 1);
    forwarded = comma == std::string_view::npos ? std::string_view{} : forwarded.substr(0, comma);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    boost::system::error_code ec;
    const auto a = net::ip::make_address(entry, ec);
    if (ec) break;  // malformed: keep the last address we could trust
    client = a;
    if (!is_trusted(a)) break;
  }
  return client;
}

}  // namespace detail

protocol::result<accepted_handshake> check_handshake(
    std::string_view text, protocol::timestamp now, std::chrono::seconds window,
    const std::function<auth_decision(const protocol::authenticated_peer&)>& authorize) {
  auto doc = protocol::parse_json(text);
  if (!doc) return doc.error();
  auto peer = protocol::verify_auth_message(*doc, now, window);
  if (!peer) return peer.error();
  auth_decision decision = authorize(*peer);
  if (!decision.accepted) return decision.refusal;
  return accepted_handshake{std::move(*peer), std::move(decision)};
}

std::string forwarded_client(std::string_view peer, std::string_view forwarded_for,
                             const std::vector<std::string>& trusted_proxies) {
  std::vector<boost::asio::ip::address> trusted;
  for (const auto& t : trusted_proxies) {
    boost::system::error_code ec;
    const auto a = boost::asio::ip::make_address(t, ec);
    if (!ec) trusted.push_back(a);
  }
  boost::system::error_code ec;
  const auto from = boost::asio::ip::make_address(peer, ec);
  if (ec) return std::string(peer);
  return detail::client_behind(from, forwarded_for, trusted).to_string();
}

}  // namespace bettensor::transport
