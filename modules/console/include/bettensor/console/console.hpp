// The operator pages (the validator's live page, the miner's page): their files, compiled into
// the library, and the headers every page and admin answer carries.
#pragma once

#include <optional>
#include <string_view>

#include "bettensor/transport/http_listener.hpp"

namespace bettensor::console {

/// An embedded file by name ("validator.html", "console.css", ...) with its content type.
struct asset {
  std::string_view body;
  std::string_view content_type;
};
[[nodiscard]] std::optional<asset> find_asset(std::string_view name);

/// Adds the security headers of operator pages and their data: a content security policy that
/// allows only this origin's own script, style and connections (no inline script, no framing),
/// no caching, no MIME sniffing, no referrer.
void secure(transport::http_response& res);

/// The embedded file as a response (404 when there is none), secured.
[[nodiscard]] transport::http_response serve_asset(std::string_view name, unsigned status = 200);

}  // namespace bettensor::console
