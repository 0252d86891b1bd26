// The validator's HTTP routes.
#include "validator_impl.hpp"

namespace bettensor::validator {

namespace {

bool same_token(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

// "a=1; bettensor_admin=<hex>; b=2" holds the page's session cookie.
bool has_admin_cookie(std::string_view header, std::string_view expected) {
  if (expected.empty()) return false;
  while (!header.empty()) {
    const auto end = header.find(';');
    std::string_view item = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    while (item.starts_with(' ')) item.remove_prefix(1);
    if (item.starts_with(admin_cookie_name) && item.size() > admin_cookie_name.size() &&
        item[admin_cookie_name.size()] == '=' &&
        same_token(item.substr(admin_cookie_name.size() + 1), expected))
      return true;
  }
  return false;
}

namespace {}  // namespace

transport::route_table validator_service::impl::http_routes() {
  const std::weak_ptr<impl> weak = shared_from_this();
  const auto with = [weak](auto member) {
    return [weak, member](transport::http_request req, transport::http_reply reply) {
      auto self = weak.lock();
      if (!self) return reply(json_error(503, "Server closing"));
      ((*self).*member)(req, std::move(reply));
    };
  };
  transport::route_table t;
  t.add("GET", "/metrics", with(&impl::get_metrics));
  t.add("", "/predictions", with(&impl::post_prediction));
  t.add("POST", "/games", with(&impl::post_games));
  return t.add(admin_routes());
}

void validator_service::impl::post_prediction(const transport::http_request& req,
                                              transport::http_reply reply) {
  m->http_prediction_requests->Increment();
  if (req.method != "POST") return reply(json_error(405, "Method not allowed"));
  http_prediction(req, std::move(reply));
}

void validator_service::impl::http_prediction(const transport::http_request& req,
                                              std::function<void(http_response)> reply) {
  auto doc = protocol::parse_json(req.body);
  if (!doc) return reply(json_error(400, doc.error().message));
  auto e = protocol::parse_envelope(std::move(*doc));
  if (!e) return reply(json_error(400, e.error().message));
  if (e->type != protocol::message_type::prediction) {
    return reply(json_error(400, "Invalid message format: expected a prediction"));
  }
  std::string sender(e->sender);
  const auto address = crypto::ss58_decode(sender);
  if (!address)
    return reply(json_error(400, "Invalid message format: field 'sender' is not an SS58 address"));
  const auto decision = authorize(sender);
  if (!decision.accepted) return reply(json_error(403, decision.refusal.message));
  const protocol::frame_expectations expect{sender, &address->key, protocol::now_utc(),
                                            opts.server.timestamp_window, nonces.get()};
  if (auto ok = protocol::verify_envelope(*e, expect); !ok) {
    spdlog::info("Invalid HTTP prediction from {}: {}", sender, ok.error().message);
    return reply(json_error(400, ok.error().message));
  }
  auto p = protocol::parse_prediction(e->data);
  if (!p) return reply(json_error(400, p.error().message));
  std::string id = p->prediction_id;
  // Not `sender`: it moves into the callback, and the order arguments are made in is unspecified.
  submit({std::string(e->sender), decision.uid}, std::move(*p),
         [self = shared_from_this(), id, sender = std::move(sender), uid = decision.uid,
          reply = std::move(reply)](const storage::verdict& v) {
           self->count_verdict(v, metrics::channel::http);
           self->record_verdict(nullptr, sender, uid, id, v, metrics::channel::http);
           net::post(self->ioc, [self, id, v, reply] {
             reply(http_response{200, self->confirmation_frame(id, v)->text});
             spdlog::info("Sent confirmation for prediction {} via HTTP ({})", id,
                          v.accepted() ? "success" : v.message);
           });
         });
}

void validator_service::impl::post_games(const transport::http_request& req,
                                         const transport::http_reply& reply) {
  if (auto refused = admin_refusal(req)) return reply(std::move(*refused));
  auto book = game_book::parse(req.body);
  if (!book) return reply(json_error(400, book.error().message));
  const std::size_t count = (*book)->games().size();
  apply_games(*book, [reply, count](const games_outcome& o) {
    if (o.error) return reply(json_error(503, "Games not stored: " + *o.error));
    reply({200, boost::json::serialize(boost::json::object{{"status", "success"},
                                                           {"games", count},
                                                           {"changed", o.changed},
                                                           {"recipients", o.recipients}})});
  });
}

bool validator_service::impl::same_admin_token(std::string_view token) const {
  return !admin_token.empty() && same_token(token, admin_token);
}

std::optional<http_response> validator_service::impl::admin_refusal(
    const transport::http_request& req) const {
  if (admin_token.empty())
    return json_error(403, "Admin endpoint disabled (no --admin.token_file)");
  if (!req.remote_is_loopback && !opts.admin_allow_remote) {
    spdlog::warn("Refused {} {} from {}: not a loopback client", req.method, req.path,
                 req.remote_address);
    return json_error(403, "Admin endpoint accepts loopback clients only");
  }
  constexpr std::string_view bearer = "Bearer ";
  if (req.authorization.starts_with(bearer) &&
      same_token(std::string_view(req.authorization).substr(bearer.size()), admin_token))
    return std::nullopt;
  if (!has_admin_cookie(req.cookie, admin_cookie)) {
    spdlog::warn("Refused {} {} from {}: bad admin token", req.method, req.path,
                 req.remote_address);
    return json_error(401, "Invalid admin token");
  }
  // A browser sends the cookie with a cross-site form too; such a form cannot send JSON.
  if (req.method != "GET" && !req.content_type.starts_with("application/json")) {
    spdlog::warn("Refused {} {} from {}: a cookie-borne request that is not JSON", req.method,
                 req.path, req.remote_address);
    return json_error(403, "Admin requests from the page must be application/json");
  }
  return std::nullopt;
}

}  // namespace bettensor::validator
