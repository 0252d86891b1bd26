// The validator's admin API and live page (README "Admin API and pages") over real loopback
// connections: the token, the listings, a disconnect the miner sees, paging, the event stream,
// the page's sign-in, and a clear 4xx for each bad request.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "validator_fixture.hpp"

namespace bettensor::test {
namespace {

namespace json = boost::json;

std::string bearer_token() {
  return "Bearer " + admin_token;
}

client_extras with(std::string content_type, std::string cookie = {}) {
  client_extras x;
  x.content_type = std::move(content_type);
  x.cookie = std::move(cookie);
  return x;
}
client_extras with_cookie(std::string cookie) {
  return with("application/json", std::move(cookie));
}
constexpr const char* form_type = "application/x-www-form-urlencoded";

class AdminTest : public ValidatorTest {
 protected:
  http_result get(const std::string& target, const std::string& auth = bearer_token(),
                  const client_extras& x = {}) {
    return http_request(port_, http::verb::get, target, "", auth, x);
  }
  http_result post(const std::string& target, const std::string& body,
                   const std::string& auth = bearer_token(), const client_extras& x = {}) {
    return http_request(port_, http::verb::post, target, body, auth, x);
  }
  static std::string message_of(const http_result& r) {
    boost::system::error_code ec;
    const auto v = json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("message")) return "(no message) " + r.body;
    return std::string(v.at("message").as_string());
  }
  // Sends a prediction and reads its confirmation; returns its status.
  std::string predict(ws_client& c, const crypto::hotkey& m, const std::string& id,
                      double wager = 1) {
    c.send(prediction_frame(m, prediction(m, id, wager)));
    return confirm(c).status;
  }
  // The first "state" event of GET /admin/events read from a raw connection.
  std::string first_state_event(const std::string& auth) {
    namespace net = boost::asio;
    net::io_context io;
    beast::tcp_stream s(io);
    s.expires_after(10s);
    s.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
    const std::string req =
        "GET /admin/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + auth +
        "\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n";
    net::write(s, net::buffer(req));
    std::string got;
    std::array<char, 4096> buf{};
    for (;;) {
      const auto at = got.find("event: state\ndata: ");
      if (at != std::string::npos) {
        const auto end = got.find("\n\n", at);
        if (end != std::string::npos) return got.substr(0, end);
      }
      beast::error_code ec;
      const auto n = s.read_some(net::buffer(buf), ec);
      if (ec) return got + "\n(read ended: " + ec.message() + ")";
      got.append(buf.data(), n);
    }
  }
};

TEST_F(AdminTest, EveryRouteAnswers401WithoutTheTokenAndThePageOffersASignIn) {
  start();
  for (const char* target : {"/admin/connections", "/admin/predictions", "/admin/events"}) {
    SCOPED_TRACE(target);
    EXPECT_EQ(get(target, "").status, 401U);
    EXPECT_EQ(get(target, "Bearer wrong-token-wrong-token").status, 401U);
    EXPECT_EQ(get(target, "", with_cookie("bettensor_admin=forged")).status, 401U);
  }
  const auto disconnect = post("/admin/disconnect", R"({"hotkey": "x"})", "");
  EXPECT_EQ(disconnect.status, 401U);
  const auto page = get("/admin", "");
  EXPECT_EQ(page.status, 401U);
  EXPECT_TRUE(page.header("content-type").starts_with("text/html")) << page.header("content-type");
  EXPECT_NE(page.body.find("name=\"token\""), std::string::npos) << page.body;
  EXPECT_NE(page.header("content-security-policy").find("default-src 'none'"), std::string::npos);
  EXPECT_NE(page.header("content-security-policy").find("frame-ancestors 'none'"),
            std::string::npos);
  EXPECT_EQ(page.header("x-frame-options"), "DENY");
  EXPECT_EQ(page.header("cache-control"), "no-store");
  EXPECT_EQ(page.header("x-content-type-options"), "nosniff");
  // The page's script and style are open (no admin data) and come from the binary.
  const auto script = get("/admin/assets/validator.js", "");
  EXPECT_EQ(script.status, 200U);
  EXPECT_NE(script.body.find("EventSource"), std::string::npos);
  EXPECT_EQ(get("/admin/assets/common.js", "").status, 200U);
  EXPECT_EQ(get("/admin/assets/console.css", "").status, 200U);
  EXPECT_EQ(get("/admin/assets/nothing.js", "").status, 404U);
}

TEST_F(AdminTest, ConnectionsListEachMinerWithItsVerdictCounts) {
  start();
  auto a = connect(miners_[0]);
  auto b = connect(miners_[1]);
  EXPECT_EQ(predict(*a, miners_[0], "adm-1"), "success");
  EXPECT_EQ(predict(*a, miners_[0], "adm-2"), "success");
  EXPECT_EQ(predict(*a, miners_[0], "adm-3", 0), "error");  // a non-positive wager
  const auto r = get("/admin/connections");
  ASSERT_EQ(r.status, 200U) << r.body;
  EXPECT_EQ(r.header("cache-control"), "no-store");
  const auto v = json::parse(r.body);
  const auto& list = v.at("connections").as_array();
  ASSERT_EQ(list.size(), 2U) << r.body;
  std::map<std::string, json::object> by_key;
  for (const auto& c : list) by_key[std::string(c.at("hotkey").as_string())] = c.as_object();
  ASSERT_TRUE(by_key.contains(miners_[0].ss58) && by_key.contains(miners_[1].ss58)) << r.body;
  const auto& first = by_key[miners_[0].ss58];
  EXPECT_EQ(first.at("uid").to_number<std::int64_t>(), 1);
  EXPECT_EQ(first.at("accepted").to_number<std::int64_t>(), 2);
  EXPECT_EQ(first.at("refused").to_number<std::int64_t>(), 1);
  EXPECT_TRUE(first.at("remote_address").as_string().starts_with("127.0.0.1:"));
  for (const char* key : {"connected_since", "last_heartbeat"})
    EXPECT_TRUE(protocol::parse_timestamp(first.at(key).as_string())) << key;
  EXPECT_TRUE(first.at("send_queue").is_number());
  EXPECT_EQ(by_key[miners_[1].ss58].at("accepted").to_number<std::int64_t>(), 0);
}

TEST_F(AdminTest, DisconnectClosesWithTheOperatorsReasonAndAHoldRefusesTheReconnect) {
  start();
  auto a = connect(miners_[0]);
  auto b = connect(miners_[1]);
  const auto r =
      post("/admin/disconnect", R"({"hotkey": ")" + miners_[0].ss58 + R"(", "hold_seconds": 600})");
  ASSERT_EQ(r.status, 200U) << r.body;
  const auto v = json::parse(r.body);
  EXPECT_EQ(v.at("status"), "success");
  EXPECT_EQ(v.at("uid").to_number<std::int64_t>(), 1);
  const auto closed = a->read_until_closed();
  EXPECT_EQ(closed.code, 1008);
  EXPECT_EQ(std::string(closed.reason), "Disconnected by the validator's operator");
  // Held: the handshake is refused with its own text; the other miner is untouched.
  ws_client again(port_);
  again.send(auth_frame(miners_[0]));
  const auto answer = again.read();
  ASSERT_TRUE(answer);
  EXPECT_EQ(json::parse(*answer).at("message"),
            "Not authorized: held off by the validator's operator");
  EXPECT_EQ(predict(*b, miners_[1], "still-served"), "success");
  // Without a hold the miner may come back at once.
  auto c = connect(miners_[1]);  // replaces b
  const auto plain = post("/admin/disconnect", R"({"hotkey": ")" + miners_[1].ss58 + R"("})");
  EXPECT_EQ(plain.status, 200U) << plain.body;
  EXPECT_EQ(c->read_until_closed().code, 1008);
  auto back = connect(miners_[1]);
  EXPECT_EQ(predict(*back, miners_[1], "back-again"), "success");
}

TEST_F(AdminTest, BadRequestsGetClear4xxAnswers) {
  start();
  auto a = connect(miners_[0]);
  const auto unknown = post("/admin/disconnect", R"({"hotkey": ")" + miners_[2].ss58 + R"("})");
  EXPECT_EQ(unknown.status, 404U);
  EXPECT_EQ(message_of(unknown), "Hotkey not connected: " + miners_[2].ss58);
  const auto not_ss58 = post("/admin/disconnect", R"({"hotkey": "5Fnot-a-key"})");
  EXPECT_EQ(not_ss58.status, 400U);
  EXPECT_EQ(message_of(not_ss58), "Invalid request: 'hotkey' is not an SS58 address");
  for (const char* body : {"", "not json", "[]", R"({"hotkey": 5})", R"({"key": "x"})"}) {
    SCOPED_TRACE(body);
    const auto bad = post("/admin/disconnect", body);
    EXPECT_EQ(bad.status, 400U);
    EXPECT_EQ(message_of(bad), R"(Invalid request: expected {"hotkey": "<ss58 address>"})");
  }
  const auto hold =
      post("/admin/disconnect", R"({"hotkey": ")" + miners_[0].ss58 + R"(", "hold_seconds": -1})");
  EXPECT_EQ(hold.status, 400U);
  EXPECT_EQ(message_of(hold), "Invalid request: 'hold_seconds' must be an integer from 0 to 86400");
  const auto big = post("/admin/disconnect", std::string(5000, ' ') + "{}");
  EXPECT_EQ(big.status, 413U);
  EXPECT_EQ(message_of(big), "Request body too large");
  for (const char* cursor : {"abc", "0", "-1", "12x", ""}) {
    SCOPED_TRACE(cursor);
    const auto bad = get(std::string("/admin/predictions?cursor=") + cursor);
    EXPECT_EQ(bad.status, 400U);
    EXPECT_EQ(message_of(bad), "Invalid cursor: expected the next_cursor of an earlier page");
  }
  for (const char* limit : {"0", "501", "many"}) {
    SCOPED_TRACE(limit);
    const auto bad = get(std::string("/admin/predictions?limit=") + limit);
    EXPECT_EQ(bad.status, 400U);
    EXPECT_EQ(message_of(bad), "Invalid limit: expected 1 to 500");
  }
  const auto wrong = get("/admin/disconnect");
  EXPECT_EQ(wrong.status, 405U);
  EXPECT_EQ(wrong.header("allow"), "POST");
  EXPECT_EQ(post("/admin/connections", "{}").status, 405U);
  EXPECT_EQ(post("/admin/connections", "{}").header("allow"), "GET");
  EXPECT_TRUE(a->is_open());  // none of it touched the miner
  // Each answer was counted by endpoint and outcome.
  const auto metrics = http_request(port_, http::verb::get, "/metrics").body;
  for (const char* line :
       {R"(bettensor_admin_requests_total{endpoint="disconnect",outcome="not_found"} 1)",
        R"(bettensor_admin_requests_total{endpoint="disconnect",outcome="too_large"} 1)",
        R"(bettensor_admin_requests_total{endpoint="predictions",outcome="bad_request"} 8)",
        R"(bettensor_admin_requests_total{endpoint="disconnect",outcome="method"} 1)"})
    EXPECT_NE(metrics.find(line), std::string::npos) << line;
}

TEST_F(AdminTest, PredictionsArePagedNewestFirstWithACursor) {
  start();
  auto a = connect(miners_[0]);
  for (int i = 0; i < 7; ++i)
    EXPECT_EQ(predict(*a, miners_[0], "page-" + std::to_string(i)), "success");
  EXPECT_EQ(predict(*a, miners_[0], "page-0"), "success");  // answered again: a duplicate
  std::vector<std::string> ids;
  std::string cursor;
  int pages = 0;
  for (;; ++pages) {
    ASSERT_LT(pages, 10);
    const auto r = get("/admin/predictions?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200U) << r.body;
    const auto v = json::parse(r.body);
    const auto& items = v.at("predictions").as_array();
    EXPECT_LE(items.size(), 3U);
    for (const auto& p : items) {
      ids.emplace_back(p.at("prediction_id").as_string());
      EXPECT_EQ(std::string(p.at("hotkey").as_string()), miners_[0].ss58);
      EXPECT_EQ(p.at("status"), "success");
      EXPECT_EQ(p.at("channel"), "websocket");
    }
    if (v.at("next_cursor").is_null()) break;
    cursor = std::string(v.at("next_cursor").as_string());
  }
  EXPECT_EQ(pages, 2);
  const std::vector<std::string> expected{"page-0", "page-6", "page-5", "page-4",
                                          "page-3", "page-2", "page-1", "page-0"};
  EXPECT_EQ(ids, expected);
  const auto first = json::parse(get("/admin/predictions?limit=1").body);
  EXPECT_EQ(first.at("predictions").at(0).at("duplicate"), true);
}

TEST_F(AdminTest, TheEventStreamStartsWithTheStateOfConnectionsVerdictsAndGames) {
  start();
  auto a = connect(miners_[0]);
  EXPECT_EQ(predict(*a, miners_[0], "streamed-1"), "success");
  const auto text = first_state_event(bearer_token());
  ASSERT_NE(text.find("HTTP/1.1 200"), std::string::npos) << text;
  EXPECT_NE(text.find("text/event-stream"), std::string::npos) << text;
  const auto at = text.find("event: state\ndata: ");
  ASSERT_NE(at, std::string::npos) << text;
  const auto state = json::parse(text.substr(at + 19));
  EXPECT_EQ(std::string(state.at("validator").as_string()), validator_.ss58);
  ASSERT_EQ(state.at("connections").as_array().size(), 1U);
  EXPECT_EQ(std::string(state.at("connections").at(0).at("hotkey").as_string()), miners_[0].ss58);
  ASSERT_EQ(state.at("verdicts").as_array().size(), 1U);
  EXPECT_EQ(state.at("verdicts").at(0).at("prediction_id"), "streamed-1");
  EXPECT_EQ(state.at("game_count").to_number<std::size_t>(), games_.size());
  EXPECT_EQ(state.at("totals").at("accepted").to_number<std::int64_t>(), 1);
  EXPECT_EQ(first_state_event("Bearer nope").find("event: state"), std::string::npos);
}

TEST_F(AdminTest, ThePageSignsInWithTheTokenIntoAStrictCookie) {
  start();
  const client_extras form = with(form_type);
  const auto refused = post("/admin/login", "token=wrong", "", form);
  EXPECT_EQ(refused.status, 401U);
  EXPECT_NE(refused.body.find("Invalid admin token."), std::string::npos);
  EXPECT_TRUE(refused.header("set-cookie").empty());
  // The token as a browser sends it: form-encoded ('-' stays as it is).
  const auto ok = post("/admin/login", "token=" + admin_token, "", form);
  ASSERT_EQ(ok.status, 303U) << ok.body;
  EXPECT_EQ(ok.header("location"), "/admin");
  const auto set_cookie = ok.header("set-cookie");
  for (const char* attribute : {"HttpOnly", "SameSite=Strict", "Path=/admin"})
    EXPECT_NE(set_cookie.find(attribute), std::string::npos) << set_cookie;
  EXPECT_EQ(set_cookie.find(admin_token), std::string::npos) << "the cookie is not the token";
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  const auto page = get("/admin", "", with_cookie(cookie));
  EXPECT_EQ(page.status, 200U);
  EXPECT_NE(page.body.find("validator.js"), std::string::npos);
  EXPECT_EQ(get("/admin/connections", "", with_cookie(cookie)).status, 200U);
  // A cross-site form cannot post with the cookie: the page's own requests are JSON.
  auto a = connect(miners_[0]);
  const std::string body = R"({"hotkey": ")" + miners_[0].ss58 + R"("})";
  const auto plain = post("/admin/disconnect", body, "", with("text/plain", cookie));
  EXPECT_EQ(plain.status, 403U);
  EXPECT_EQ(message_of(plain), "Admin requests from the page must be application/json");
  EXPECT_TRUE(a->is_open());
  EXPECT_EQ(post("/admin/disconnect", body, "", with_cookie(cookie)).status, 200U);
  EXPECT_EQ(a->read_until_closed().code, 1008);
}

TEST_F(AdminTest, WithoutAnAdminTokenTheAdminRoutesAreOff) {
  opts_.admin_token_file.reset();
  start();
  EXPECT_EQ(get("/admin/connections").status, 403U);
  const auto login = post("/admin/login", "token=" + admin_token, "", with(form_type));
  EXPECT_EQ(login.status, 403U);
  EXPECT_NE(login.body.find("--admin.token_file"), std::string::npos);
}

}  // namespace
}  // namespace bettensor::test
