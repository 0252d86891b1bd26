// The validator's admin API and live page (README "Admin API and pages"): every route needs the
// admin token (a bearer token, or the page's session cookie) and a loopback client unless
// --admin.allow_remote. The page follows one server-sent event stream.
#include <boost/json/parse.hpp>

#include <charconv>

#include "bettensor/console/console.hpp"
#include "validator_impl.hpp"

namespace bettensor::validator {

namespace json = boost::json;

namespace {

constexpr std::size_t max_admin_body = 4096;
constexpr std::int64_t max_hold_seconds = 86400;
constexpr std::size_t default_page_size = 50;
constexpr std::size_t max_page_size = 500;
constexpr std::size_t max_games_shown = 200;
constexpr std::size_t max_verdicts_per_event = 100;
constexpr auto admin_tick = std::chrono::seconds(1);

std::string iso(std::chrono::system_clock::time_point t) {
  return protocol::format_timestamp(std::chrono::time_point_cast<std::chrono::microseconds>(t));
}

http_response json_ok(const json::object& body) {
  http_response r{200, json::serialize(body)};
  console::secure(r);
  return r;
}

json::object connection_json(const transport::session_info& s) {
  return {{"hotkey", s.hotkey},
          {"uid", s.uid},
          {"remote_address", s.remote_address},
          {"connected_since", iso(s.connected_since)},
          {"last_heartbeat", iso(s.last_activity)},
          {"accepted", s.accepted},
          {"refused", s.refused},
          {"send_queue", s.queue_depth}};
}

json::object verdict_json(const verdict_record& r) {
  return {{"seq", r.seq},
          {"time", iso(r.at)},
          {"hotkey", r.hotkey},
          {"uid", r.uid},
          {"prediction_id", r.prediction_id},
          {"status", r.accepted ? "success" : "error"},
          {"message", r.message},
          {"duplicate", r.duplicate},
          {"channel", r.channel}};
}

// The value of `key` in "a=1&b=2" (no decoding: the values read here are numbers).
std::optional<std::string_view> query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto end = query.find('&');
    const std::string_view item = query.substr(0, end);
    query = end == std::string_view::npos ? std::string_view() : query.substr(end + 1);
    if (item.size() > key.size() && item.starts_with(key) && item[key.size()] == '=')
      return item.substr(key.size() + 1);
    if (item == key) return std::string_view();
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_count(std::string_view text) {
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || text.empty()) return std::nullopt;
  return v;
}

// The value of `key` in an application/x-www-form-urlencoded body, decoded.
std::optional<std::string> form_value(std::string_view body, std::string_view key) {
  auto raw = query_value(body, key);
  if (!raw) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < raw->size(); ++i) {
    const char c = (*raw)[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < raw->size()) {
      unsigned v = 0;
      auto [p, ec] = std::from_chars(raw->data() + i + 1, raw->data() + i + 3, v, 16);
      if (ec != std::errc() || p != raw->data() + i + 3) return std::nullopt;
      out += static_cast<char>(v);
      i += 2;
    } else if (c == '%') {
      return std::nullopt;
    } else {
      out += c;
    }
  }
  return out;
}

// The login page, with `message` (plain text, escaped here) above the form.
http_response login_page(unsigned status, std::string_view message) {
  auto res = console::serve_asset("login.html", status);
  std::string escaped;
  for (const char c : message) {
    switch (c) {
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '&':
        escaped += "&amp;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      default:
        escaped += c;
    }
  }
  constexpr std::string_view mark = "<!--message-->";
  if (const auto at = res.body.find(mark); at != std::string::npos)
    res.body.replace(at, mark.size(), escaped);
  return res;
}

}  // namespace

void validator_service::impl::count_admin(std::string_view endpoint, unsigned status) const {
  std::string_view outcome = "ok";
  switch (status) {
    case 401:
      outcome = "unauthorized";
      break;
    case 403:
      outcome = "forbidden";
      break;
    case 404:
      outcome = "not_found";
      break;
    case 405:
      outcome = "method";
      break;
    case 413:
      outcome = "too_large";
      break;
    default:
      if (status >= 400) outcome = "bad_request";
  }
  m->admin_requests->Add({{"endpoint", std::string(endpoint)}, {"outcome", std::string(outcome)}})
      .Increment();
}

transport::route_table validator_service::impl::admin_routes() {
  const std::weak_ptr<impl> weak = shared_from_this();
  // Every admin route: counted by outcome, answered 503 once the service is gone, and refused
  // (401/403) before `serve` runs unless `open` (the login page and the static files).
  const auto route = [weak](std::string_view endpoint, std::string method, bool open, auto serve) {
    return [weak, endpoint, method = std::move(method), open, serve](
               const transport::http_request& req, const transport::http_reply& reply) {
      auto self = weak.lock();
      if (!self) return reply(json_error(503, "Server closing"));
      http_response res;
      if (req.method != method) {
        res = json_error(405, "Method not allowed");
        res.headers.emplace_back("Allow", method);
      } else if (auto refused = open ? std::nullopt : self->admin_refusal(req)) {
        res = std::move(*refused);
        if (endpoint == "page" && res.status == 401)
          res = login_page(401, "Sign in with the validator's admin token.");
      } else {
        res = serve(*self, req);
      }
      if (res.stream == nullptr) console::secure(res);
      self->count_admin(endpoint, res.status);
      reply(std::move(res));
    };
  };
  transport::route_table t;
  t.add("", "/admin/connections",
        route("connections", "GET", false,
              [](impl& s, const transport::http_request&) { return s.admin_connections(); }));
  t.add("", "/admin/disconnect",
        route("disconnect", "POST", false,
              [](impl& s, const transport::http_request& r) { return s.admin_disconnect(r); }));
  t.add("", "/admin/predictions",
        route("predictions", "GET", false,
              [](impl& s, const transport::http_request& r) { return s.admin_predictions(r); }));
  t.add("", "/admin/events",
        route("events", "GET", false,
              [](impl& s, const transport::http_request& r) { return s.admin_events(r); }));
  t.add("", "/admin", route("page", "GET", false, [](impl& s, const transport::http_request& r) {
          return s.admin_page(r);
        }));
  t.add("", "/admin/login",
        route("login", "POST", true,
              [](impl& s, const transport::http_request& r) { return s.admin_login(r); }));
  for (const std::string_view file : {"validator.js", "common.js", "console.css"}) {
    t.add("", "/admin/assets/" + std::string(file),
          route("assets", "GET", true, [file](impl&, const transport::http_request&) {
            return console::serve_asset(file);
          }));
  }
  return t;
}

void validator_service::impl::record_verdict(const std::shared_ptr<peer_connection>& peer,
                                             std::string_view hotkey, std::int64_t uid,
                                             std::string_view prediction_id,
                                             const storage::verdict& v, metrics::channel c) {
  if (peer) peer->record_verdict(v.accepted());
  verdicts.record(hotkey, uid, prediction_id, v.accepted(), v.duplicate, v.message,
                  c == metrics::channel::http ? "http" : "websocket");
}

http_response validator_service::impl::admin_connections() const {
  json::array list;
  std::size_t handshaking = 0;
  for (const auto& s : server->sessions()) {
    if (!s.authenticated) {
      ++handshaking;
      continue;
    }
    list.push_back(connection_json(s));
  }
  return json_ok({{"connections", std::move(list)}, {"handshaking", handshaking}});
}

http_response validator_service::impl::admin_disconnect(const transport::http_request& req) {
  if (req.body.size() > max_admin_body) return json_error(413, "Request body too large");
  boost::system::error_code ec;
  const auto doc = json::parse(req.body, ec);
  const auto* obj = ec ? nullptr : doc.if_object();
  const auto* hotkey = obj != nullptr ? obj->if_contains("hotkey") : nullptr;
  if (hotkey == nullptr || !hotkey->is_string())
    return json_error(400, R"(Invalid request: expected {"hotkey": "<ss58 address>"})");
  const std::string hk(hotkey->as_string());
  if (!crypto::ss58_decode(hk))
    return json_error(400, "Invalid request: 'hotkey' is not an SS58 address");
  std::int64_t hold = 0;
  if (const auto* h = obj->if_contains("hold_seconds")) {
    const auto* n = h->if_int64();
    if (n == nullptr || *n < 0 || *n > max_hold_seconds)
      return json_error(400, "Invalid request: 'hold_seconds' must be an integer from 0 to " +
                                 std::to_string(max_hold_seconds));
    hold = *n;
  }
  std::optional<transport::session_info> found;
  for (auto& s : server->sessions()) {
    if (s.authenticated && s.hotkey == hk) found = std::move(s);
  }
  if (!found) return json_error(404, "Hotkey not connected: " + hk);
  if (hold > 0) {
    std::lock_guard lock(mutex);
    held.insert_or_assign(hk, std::chrono::steady_clock::now() + std::chrono::seconds(hold));
  }
  server->disconnect_if([&hk](const std::string& h) { return h == hk; },
                        protocol::close_reason::operator_request, {});
  spdlog::warn("Disconnected miner {} (UID: {}) at the operator's request from {}{}", hk,
               found->uid, req.remote_address,
               hold > 0 ? fmt::format(", refused for {} s", hold) : std::string());
  return json_ok(
      {{"status", "success"}, {"hotkey", hk}, {"uid", found->uid}, {"hold_seconds", hold}});
}

http_response validator_service::impl::admin_predictions(const transport::http_request& req) const {
  std::optional<std::uint64_t> cursor;
  if (auto c = query_value(req.query, "cursor")) {
    cursor = parse_count(*c);
    if (!cursor || *cursor == 0)
      return json_error(400, "Invalid cursor: expected the next_cursor of an earlier page");
  }
  std::size_t limit = default_page_size;
  if (auto l = query_value(req.query, "limit")) {
    const auto n = parse_count(*l);
    if (!n || *n == 0 || *n > max_page_size)
      return json_error(400, "Invalid limit: expected 1 to " + std::to_string(max_page_size));
    limit = static_cast<std::size_t>(*n);
  }
  const auto page = verdicts.newest(cursor, limit);
  json::array items;
  for (const auto& r : page.items) items.push_back(verdict_json(r));
  json::value next = nullptr;
  if (page.next) next = std::to_string(*page.next);
  return json_ok({{"predictions", std::move(items)}, {"next_cursor", std::move(next)}});
}

http_response validator_service::impl::admin_page(const transport::http_request&) const {
  return console::serve_asset("validator.html");
}

http_response validator_service::impl::admin_login(const transport::http_request& req) const {
  if (admin_token.empty())
    return login_page(403,
                      "The admin page is disabled: start the validator with --admin.token_file.");
  if (!req.remote_is_loopback && !opts.admin_allow_remote)
    return login_page(403, "The admin page accepts loopback clients only.");
  if (req.body.size() > max_admin_body) return login_page(413, "Request body too large.");
  const auto token = form_value(req.body, "token");
  if (!token || !same_admin_token(*token)) {
    spdlog::warn("Refused an admin page sign-in from {}: bad admin token", req.remote_address);
    return login_page(401, "Invalid admin token.");
  }
  http_response res{303, "", "text/plain; charset=utf-8"};
  res.headers.emplace_back("Location", "/admin");
  res.headers.emplace_back("Set-Cookie", std::string(admin_cookie_name) + "=" + admin_cookie +
                                             "; Path=/admin; HttpOnly; SameSite=Strict");
  spdlog::info("Admin page signed in from {}", req.remote_address);
  return res;
}

http_response validator_service::impl::admin_events(const transport::http_request&) {
  auto stream = std::make_shared<transport::event_stream>();
  {
    std::lock_guard lock(streams_mutex);
    const auto newest = verdicts.last_seq();
    stream->push(transport::sse_event(
        "state",
        admin_state(true, newest > default_page_size ? newest - default_page_size : 0, newest)));
    streams.push_back(stream);
  }
  http_response res{200, "", "text/event-stream"};
  res.headers.emplace_back("Cache-Control", "no-store");
  res.headers.emplace_back("X-Accel-Buffering", "no");  // nginx: pass events as they come
  res.stream = std::move(stream);
  return res;
}

std::string validator_service::impl::admin_state(bool first, std::uint64_t since_seq,
                                                 std::uint64_t upto_seq) const {
  json::array connections;
  for (const auto& s : server->sessions()) {
    if (s.authenticated) connections.push_back(connection_json(s));
  }
  json::array recent;
  auto page = verdicts.newest(upto_seq + 1, first ? default_page_size : max_verdicts_per_event);
  for (const auto& r : page.items) {
    if (r.seq > since_seq) recent.push_back(verdict_json(r));
  }
  json::array games_list;
  const auto book = current_games();
  std::size_t game_count = 0;
  if (book) {
    game_count = book->games().size();
    for (const auto& g : book->games()) {
      if (games_list.size() == max_games_shown) break;
      games_list.push_back(
          json::object{{"game_id", g.game_id},
                       {"team_a", g.team_a},
                       {"team_b", g.team_b},
                       {"sport", g.sport},
                       {"event_start_date", g.event_start_date},
                       {"team_a_odds", g.team_a_odds},
                       {"team_b_odds", g.team_b_odds},
                       {"tie_odds", g.tie_odds ? json::value(*g.tie_odds) : json::value(nullptr)},
                       {"active", g.active}});
    }
  }
  const auto totals = verdicts.counts();
  const double secs = std::chrono::duration<double>(admin_tick).count();
  return json::serialize(json::object{
      {"validator", identity.ss58},
      {"time", protocol::format_timestamp(protocol::now_utc())},
      {"connections", std::move(connections)},
      {"verdicts", std::move(recent)},
      {"games", std::move(games_list)},
      {"game_count", game_count},
      {"totals", json::object{{"accepted", totals.accepted}, {"refused", totals.refused}}},
      {"rates",
       json::object{
           {"accepted_per_second",
            first ? 0.0 : static_cast<double>(totals.accepted - last_totals.accepted) / secs},
           {"refused_per_second",
            first ? 0.0 : static_cast<double>(totals.refused - last_totals.refused) / secs}}}});
}

net::awaitable<void> validator_service::impl::admin_ticker(std::shared_ptr<impl> self) {
  for (;;) {
    self->admin_timer.expires_after(admin_tick);
    if (auto [ec] = co_await self->admin_timer.async_wait(use_nothrow); ec || self->stopping)
      co_return;
    std::lock_guard lock(self->streams_mutex);
    std::erase_if(self->streams, [](const auto& s) { return s->closed(); });
    const auto newest = self->verdicts.last_seq();
    if (!self->streams.empty()) {
      const auto event =
          transport::sse_event("state", self->admin_state(false, self->streamed_seq, newest));
      for (const auto& s : self->streams) s->push(event);
    }
    self->streamed_seq = newest;
    self->last_totals = self->verdicts.counts();
  }
}

}  // namespace bettensor::validator
