// Adding a message type: one handler class and one registration line. The registry counts and
// times it under the type it was registered as, and unregistered types reach the fallback.
#include "bettensor/validator/registry.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace bettensor::validator {
namespace {

// A peer that keeps what it is sent.
class recording_peer final : public transport::peer_connection {
 public:
  [[nodiscard]] const std::string& hotkey() const override { return hotkey_; }
  [[nodiscard]] std::int64_t uid() const override { return 7; }
  [[nodiscard]] const std::string& remote_address() const override { return hotkey_; }
  void send(transport::frame_ptr frame) override { sent.push_back(frame->text); }
  void close(protocol::close_reason, std::string) override {}
  std::vector<std::string> sent;

 private:
  std::string hotkey_ = "5Peer";
};

// The new type's whole implementation.
class ping_handler final : public message_handler {
 public:
  void handle(const std::shared_ptr<transport::peer_connection>& peer,
              protocol::envelope&& e) override {
    peer->send(std::make_shared<const transport::frame>(
        transport::frame{"pong:" + std::string(e.data.at("n").as_string())}));
  }
};

protocol::envelope envelope_of(std::string type) {
  protocol::envelope e;
  e.type = std::move(type);
  e.data = boost::json::object{{"n", "1"}};
  return e;
}

TEST(HandlerRegistry, NewTypeIsOneClassAndOneLine) {
  metrics::registry reg;
  metrics::validator_metrics m(reg.get());
  handler_registry registry(m);
  registry.add("ping", std::make_unique<ping_handler>());  // the one line

  std::vector<std::string> unknown;
  registry.on_unknown([&](const auto&, protocol::envelope&& e) { unknown.push_back(e.type); });
  auto peer = std::make_shared<recording_peer>();
  registry.dispatch(peer, envelope_of("ping"));
  registry.dispatch(peer, envelope_of("ping"));
  registry.dispatch(peer, envelope_of("pang"));

  EXPECT_EQ(peer->sent, (std::vector<std::string>{"pong:1", "pong:1"}));
  EXPECT_EQ(unknown, std::vector<std::string>{"pang"});
  const std::string text = reg.render();
  EXPECT_NE(text.find(R"(bettensor_messages_total{direction="in",type="ping"} 2)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(bettensor_handler_duration_seconds_count{type="ping"} 2)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(bettensor_messages_total{direction="in",type="other"} 1)"),
            std::string::npos);
  ASSERT_NE(registry.duration_of("ping"), nullptr);
  EXPECT_EQ(registry.duration_of("pang"), nullptr);
}

TEST(HandlerRegistry, BuiltInTypesKeepTheirSeries) {
  metrics::registry reg;
  metrics::validator_metrics m(reg.get());
  handler_registry registry(m);
  registry.add(std::string(protocol::message_type::heartbeat), std::make_unique<ping_handler>());
  registry.dispatch(std::make_shared<recording_peer>(), envelope_of("heartbeat"));
  // The same child the validator's built-in series use, not a second one.
  EXPECT_EQ(metrics::at(m.messages_in, protocol::frame_kind::heartbeat).Value(), 1);
}

}  // namespace
}  // namespace bettensor::validator
