#include "bettensor/console/console.hpp"

#include <string>

#include "assets_table.hpp"

namespace bettensor::console {

namespace {

std::string_view content_type_of(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

}  // namespace

std::optional<asset> find_asset(std::string_view name) {
  for (const auto& f : detail::embedded_files) {
    if (f.name == name) return asset{f.body, content_type_of(name)};
  }
  return std::nullopt;
}

void secure(transport::http_response& res) {
  res.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; script-src 'self'; style-src 'self'; "
                           "connect-src 'self'; img-src 'self'; form-action 'self'; "
                           "frame-ancestors 'none'; base-uri 'none'");
  res.headers.emplace_back("X-Frame-Options", "DENY");
  res.headers.emplace_back("Cache-Control", "no-store");
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("Referrer-Policy", "no-referrer");
}

transport::http_response serve_asset(std::string_view name, unsigned status) {
  transport::http_response res;
  if (auto a = find_asset(name)) {
    res = {status, std::string(a->body), std::string(a->content_type)};
  } else {
    res = transport::json_error(404, "Not found");
  }
  secure(res);
  return res;
}

}  // namespace bettensor::console
