#include "http_fallback.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>

#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/signing.hpp"
#include "bettensor/transport/http_client.hpp"

namespace bettensor::miner::detail {

namespace net = boost::asio;

namespace {

// async_http_post as an awaitable.
net::awaitable<transport::http_post_result> post(net::any_io_executor ex,
                                                 transport::http_post_request req) {
  auto initiation = [&ex, &req](auto handler) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    transport::async_http_post(
        ex, std::move(req), [shared](transport::http_post_result r) { (*shared)(std::move(r)); });
  };
  co_return co_await net::async_initiate<decltype(net::use_awaitable),
                                         void(transport::http_post_result)>(initiation,
                                                                            net::use_awaitable);
}

}  // namespace

net::awaitable<http_answer> post_prediction(net::any_io_executor ex, http_target to,
                                            const crypto::hotkey& identity,
                                            protocol::team_game_prediction pred) {
  transport::http_post_request req;
  req.host = to.endpoint.host;
  req.port = to.endpoint.port;
  req.target = "/predictions";
  req.timeout = to.timeout;
  req.tls = to.endpoint.tls;
  req.tls_ca_file = to.tls_ca_file;
  req.body = protocol::serialize(
      protocol::sign_envelope(identity, protocol::message_type::prediction, to_json(pred)));
  const auto r = co_await post(ex, std::move(req));

  http_answer a;
  if (!r.error.empty()) {
    a.failure = r.error;
    co_return a;
  }
  a.status = r.status;
  std::string message;
  if (auto doc = protocol::parse_json(r.body); doc && doc->is_object()) {
    if (const auto* m = doc->get_object().if_contains("message"); m && m->is_string())
      message = std::string(m->get_string());
  }
  if (r.status == 200) {
    const protocol::frame_expectations expect{to.endpoint.hotkey, &to.key, protocol::now_utc(),
                                              to.timestamp_window, &to.nonces};
    auto e = protocol::open_envelope(r.body, expect);
    if (!e || e->type != protocol::message_type::confirmation) {
      a.failure =
          "dropped the answer: " + (e ? std::string("not a confirmation") : e.error().message);
      co_return a;
    }
    auto c = protocol::parse_confirmation(e->data);
    if (!c || c->prediction_id != pred.prediction_id) {
      a.failure = "the validator confirmed something else";
      co_return a;
    }
    a.accepted = c->status == "success";
    a.message = c->message;
    co_return a;
  }
  if (r.status == 400) {  // the validator refused this prediction's content: final
    a.accepted = false;
    a.message = message.empty() ? "HTTP 400" : message;
    co_return a;
  }
  a.failure = "answered " + std::to_string(r.status) + ": " +
              (message.empty() ? r.body.substr(0, 200) : message);
  co_return a;
}

}  // namespace bettensor::miner::detail
