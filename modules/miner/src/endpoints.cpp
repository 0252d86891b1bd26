// Parsing what the miner's flags name: validator addresses and the built-in strategy.
#include <charconv>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/miner/miner_service.hpp"

namespace bettensor::miner {

protocol::result<validator_endpoint> parse_validator_address(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return protocol::error{protocol::errc::invalid_format,
                           "validator address '" + std::string(text) + "': " + std::string(why) +
                               " (expected ws://HOST:PORT@VALIDATOR_SS58 or wss://...)"};
  };
  validator_endpoint v;
  v.tls = text.starts_with("wss://");
  const std::string_view scheme = v.tls ? "wss://" : "ws://";
  if (!text.starts_with(scheme)) return bad("must start with ws:// or wss://");
  const auto at = text.rfind('@');
  if (at == std::string_view::npos || at + 1 == text.size()) return bad("missing @hotkey");
  v.hotkey = std::string(text.substr(at + 1));
  if (!crypto::ss58_decode(v.hotkey)) return bad("the hotkey is not an SS58 address");
  std::string_view rest = text.substr(scheme.size(), at - scheme.size());
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    v.path = std::string(rest.substr(slash));
    rest = rest.substr(0, slash);
  }
  std::string_view port_text;
  if (rest.starts_with('[')) {  // [::1]:10401
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return bad("bad IPv6 host");
    v.host = std::string(rest.substr(1, close - 1));
    port_text = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad("missing :PORT");
    v.host = std::string(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
  }
  if (v.host.empty()) return bad("missing host");
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return bad("bad port");
  v.port = static_cast<std::uint16_t>(port);
  return v;
}

std::string to_string(const validator_endpoint& v) {
  const bool v6 = v.host.find(':') != std::string::npos;
  return (v.tls ? "wss://" : "ws://") + (v6 ? "[" + v.host + "]" : v.host) + ":" +
         std::to_string(v.port) + v.path + "@" + v.hotkey;
}

protocol::result<strategy> parse_strategy(std::string_view name) {
  if (name == "favorite") return strategy::favorite;
  if (name == "underdog") return strategy::underdog;
  if (name == "none") return strategy::none;
  return protocol::error{protocol::errc::invalid_format, "unknown strategy '" + std::string(name) +
                                                             "' (favorite, underdog or none)"};
}

}  // namespace bettensor::miner
