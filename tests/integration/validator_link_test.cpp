#include <condition_variable>
#include <deque>

#include "bettensor/transport/validator_link.hpp"
#include "validator_fixture.hpp"

namespace bettensor::test {
namespace {

// A prediction frame as the miner queues it on a link.
transport::frame_ptr link_frame(std::string text) {
  return std::make_shared<const transport::frame>(
      transport::frame{std::move(text), protocol::frame_kind::prediction});
}

// Collects what a link reports, for the test thread to wait on with a bound.
class link_events {
 public:
  transport::validator_link::callbacks callbacks() {
    return {[this](std::optional<std::int64_t> uid) {
              push("connected:" + (uid ? std::to_string(*uid) : std::string("none")));
            },
            [this](const protocol::envelope& e) {
              if (e.type == protocol::message_type::confirmation) {
                push("confirmation:" + std::string(e.data.at("prediction_id").as_string()) + ":" +
                     std::string(e.data.at("status").as_string()));
              } else {
                push(e.type);
              }
            },
            [this](const std::string& why) { push("disconnected:" + why); },
            [this](const std::string& refusal) { push("refused:" + refusal); },
            [this](const std::string& why) { push("dropped:" + why); }};
  }

  // The next event starting with `prefix` (others are skipped); fails after 15 s.
  std::string wait_for(const std::string& prefix) {
    std::unique_lock lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    for (;;) {
      while (!events_.empty()) {
        std::string e = std::move(events_.front());
        events_.pop_front();
        if (e.starts_with(prefix)) return e;
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
        ADD_FAILURE() << "no event '" << prefix << "' within 15 s";
        return {};
      }
    }
  }

 private:
  void push(std::string e) {
    {
      std::lock_guard lock(mutex_);
      events_.push_back(std::move(e));
    }
    cv_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> events_;
};

class LinkTest : public ValidatorTest {
 protected:
  transport::link_config link_config() const {
    transport::link_config c;
    c.port = port_;
    c.validator_ss58 = validator_.ss58;
    c.reconnect_base = 20ms;
    c.reconnect_max = 200ms;
    c.connect_timeout = 5s;
    return c;
  }
};

TEST_F(LinkTest, AuthenticatesReceivesGamesAndGetsConfirmations) {
  start();
  link_events events;
  transport::validator_link link(ioc_.get_executor(), link_config(), miners_[0],
                                 events.callbacks());
  link.start();
  EXPECT_EQ(events.wait_for("connected"), "connected:1");
  events.wait_for(std::string(protocol::message_type::game_update));
  EXPECT_TRUE(
      link.send(link_frame(prediction_frame(miners_[0], prediction(miners_[0], "link-1")))));
  EXPECT_EQ(events.wait_for("confirmation"), "confirmation:link-1:success");
  link.stop();
}

TEST_F(LinkTest, ReconnectsAfterTheValidatorRestartsWithJitteredDelays) {
  start();
  link_events events;
  transport::validator_link link(ioc_.get_executor(), link_config(), miners_[0],
                                 events.callbacks());
  link.start();
  events.wait_for("connected");
  const std::uint16_t port = port_;
  opts_.server.port = port;  // come back on the same port
  // Stop the validator but keep the io_context (and the link) running.
  std::promise<void> stopped;
  service_->stop([&] { stopped.set_value(); });
  ASSERT_EQ(stopped.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_NE(events.wait_for("disconnected"), "");
  service_.reset();
  service_.emplace(ioc_, opts_, validator_);
  service_->start();
  EXPECT_EQ(events.wait_for("connected"), "connected:1");
  const auto delays = link.reconnect_delays();
  ASSERT_FALSE(delays.empty());
  for (const auto& d : delays) EXPECT_LE(d, 200ms);
  EXPECT_EQ(link.consecutive_failures(), 0u);
  EXPECT_TRUE(
      link.send(link_frame(prediction_frame(miners_[0], prediction(miners_[0], "after-restart")))));
  EXPECT_EQ(events.wait_for("confirmation"), "confirmation:after-restart:success");
  link.stop();
}

TEST_F(LinkTest, BacksOffWhenRefusedAndKeepsTrying) {
  start();
  const auto stranger = make_hotkey();
  link_events events;
  transport::validator_link link(ioc_.get_executor(), link_config(), stranger, events.callbacks());
  link.start();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(events.wait_for("refused"), "refused:Not authorized: hotkey not registered");
  }
  EXPECT_GE(link.consecutive_failures(), 2u);
  EXPECT_FALSE(link.connected());
  // Registering the hotkey lets the next attempt in.
  miners_.push_back(stranger);
  write_metagraph(miners_);
  service_->reload();
  EXPECT_EQ(events.wait_for("connected"), "connected:5");
  link.stop();
}

TEST_F(LinkTest, FramesNotSignedByTheDialledValidatorAreDropped) {
  start();
  auto cfg = link_config();
  cfg.validator_ss58 = make_hotkey().ss58;  // we expect someone else at this address
  link_events events;
  transport::validator_link link(ioc_.get_executor(), cfg, miners_[0], events.callbacks());
  link.start();
  EXPECT_NE(events.wait_for("disconnected:authentication failed"), "");
  EXPECT_FALSE(link.connected());
  link.stop();
}

TEST_F(LinkTest, WssWithTheValidatorsCaConnectsAndCompressionIsOptional) {
  const auto tls = make_tls_files(dir_, "validator");
  opts_.server.tls_cert_file = tls.cert.string();
  opts_.server.tls_key_file = tls.key.string();
  opts_.server.compression = true;
  start();
  auto cfg = link_config();
  cfg.tls = true;
  cfg.tls_ca_file = tls.cert.string();
  cfg.compression = true;
  link_events events;
  transport::validator_link link(ioc_.get_executor(), cfg, miners_[0], events.callbacks());
  link.start();
  EXPECT_EQ(events.wait_for("connected"), "connected:1");
  EXPECT_TRUE(link.send(link_frame(prediction_frame(miners_[0], prediction(miners_[0], "wss-1")))));
  EXPECT_EQ(events.wait_for("confirmation"), "confirmation:wss-1:success");
  link.stop();
}

TEST_F(LinkTest, WssRefusesAnUntrustedOrMisnamedCertificateWithTheReason) {
  const auto tls = make_tls_files(dir_, "validator", "DNS:validator.example");
  opts_.server.tls_cert_file = tls.cert.string();
  opts_.server.tls_key_file = tls.key.string();
  start();
  auto cfg = link_config();
  cfg.tls = true;
  {  // trusted, but issued for another name than the one dialled (127.0.0.1)
    cfg.tls_ca_file = tls.cert.string();
    link_events events;
    transport::validator_link link(ioc_.get_executor(), cfg, miners_[0], events.callbacks());
    link.start();
    EXPECT_EQ(events.wait_for("disconnected"),
              "disconnected:bad TLS certificate: IP address mismatch (trusted: " +
                  tls.cert.string() + ")");
    EXPECT_FALSE(link.connected());
    link.stop();
  }
  {  // not trusted at all
    const auto other = make_tls_files(dir_, "other");
    cfg.tls_ca_file = other.cert.string();
    link_events events;
    transport::validator_link link(ioc_.get_executor(), cfg, miners_[0], events.callbacks());
    link.start();
    const auto why = events.wait_for("disconnected");
    EXPECT_TRUE(why.starts_with("disconnected:bad TLS certificate: ")) << why;
    EXPECT_NE(why.find(other.cert.string()), std::string::npos) << why;
    EXPECT_FALSE(link.connected());
    link.stop();
  }
  // A CA file that is not PEM is refused when the link is made, naming the file.
  std::ofstream(dir_ / "garbage.pem") << "not a certificate\n";
  cfg.tls_ca_file = (dir_ / "garbage.pem").string();
  try {
    transport::validator_link link(ioc_.get_executor(), cfg, miners_[0], {});
    ADD_FAILURE() << "a link was made with an unreadable CA file";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("garbage.pem"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace bettensor::test
