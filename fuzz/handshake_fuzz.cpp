// Fuzzes the WebSocket handshake as the validator runs it, in-process: the HTTP upgrade request
// through Beast's parser with the server's limits, the routing facts the server reads from it
// (upgrade, path, X-Forwarded-For behind a trusted proxy), then the first text frame through
// transport::check_handshake with the real validator's decision (registration, blacklist).
//
// Input: the HTTP request, then the auth frame (the bytes after the request). When the first
// byte is odd the auth frame is built and signed here with a key chosen by the second byte
// (registered, blacklisted, unregistered) and the rest of the input as its timestamp, so the
// checks after the signature are reached too.
//
// Invariants: an accepted handshake is a registered, not blacklisted miner with its uid; a
// refusal has a text; X-Forwarded-For is ignored from an untrusted peer and always yields an
// address.
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "bettensor/crypto/bytes.hpp"
#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/transport/server.hpp"
#include "validator_harness.hpp"

using namespace bettensor;
namespace http = boost::beast::http;

namespace {

const auto fixed_now = protocol::parse_timestamp("2026-11-29T20:00:00+00:00").value();

// The auth frame a miner would send, with a timestamp chosen by the fuzzer.
std::string signed_auth(const crypto::hotkey& key, std::string_view timestamp) {
  boost::json::object o{{"hotkey", key.ss58},
                        {"timestamp", std::string(timestamp)},
                        {"nonce", "00112233445566778899aabbccddeeff"}};
  const std::string text = protocol::to_canonical(o);
  o["signature"] = crypto::to_hex(key.keypair.sign(crypto::as_bytes(text)));
  return protocol::to_canonical(o);
}

// Parses the request as the server does; returns how many bytes it used (0 if incomplete).
std::size_t check_request(std::string_view bytes) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  parser.header_limit(16 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    const auto n = parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    used += n;
    if (ec || n == 0) break;
  }
  if (!parser.is_done()) return 0;
  const auto& req = parser.get();
  (void)boost::beast::websocket::is_upgrade(req);
  const std::string_view target = req.target();
  (void)target.substr(0, target.find('?'));
  const std::string_view forwarded = req["X-Forwarded-For"];
  const std::vector<std::string> trusted{"10.0.0.1", "10.0.0.2", "::1"};
  if (transport::forwarded_client("192.0.2.9", forwarded, trusted) != "192.0.2.9") std::abort();
  const auto client = transport::forwarded_client("10.0.0.1", forwarded, trusted);
  boost::system::error_code bad;
  (void)boost::asio::ip::make_address(client, bad);
  if (bad) std::abort();
  return used;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& h = fuzz::harness();
  if (size < 2) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);
  const auto authorize = [&h](const protocol::authenticated_peer& p) {
    return h.service->authorize(p);
  };

  std::string frame;
  if (data[0] % 2 == 1) {
    const crypto::hotkey* keys[] = {&h.miner, &h.blacklisted, &h.stranger};
    frame = signed_auth(*keys[data[1] % 3], text);
  } else {
    frame = std::string(text.substr(check_request(text)));
  }
  const auto r = transport::check_handshake(frame, fixed_now, std::chrono::seconds(300), authorize);
  if (r) {
    if (!r->decision.accepted || r->peer.hotkey != h.miner.ss58 || r->decision.uid != 7)
      std::abort();
  } else if (r.error().message.empty()) {
    std::abort();
  }
  return 0;
}
