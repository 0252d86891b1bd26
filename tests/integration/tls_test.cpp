// The validator over TLS (wss:// and https://) and with permessage-deflate, against real clients
// with their own trust store.
#include "validator_fixture.hpp"

namespace bettensor::test {
namespace {

class TlsTest : public ValidatorTest {
 protected:
  void use_tls() {
    tls_ = make_tls_files(dir_, "validator");
    opts_.server.tls_cert_file = tls_.cert.string();
    opts_.server.tls_key_file = tls_.key.string();
  }

  [[nodiscard]] client_extras trusting(const fs::path& ca) const {
    client_extras x;
    x.tls_ca = ca;
    return x;
  }

  // The value of one series in the validator's /metrics (over https), or -1 when absent.
  double metric(const std::string& series) {
    const auto r = http_request(port_, http::verb::get, "/metrics", {}, {}, trusting(tls_.cert));
    const auto at = r.body.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(r.body.substr(at + series.size() + 2));
  }

  tls_files tls_;
};

TEST_F(TlsTest, WssCarriesTheWholeFlowAndHttpsServesTheHttpEndpoints) {
  use_tls();
  start();
  const auto c = connect<wss_client>(miners_[0], 10s, "/ws", trusting(tls_.cert));
  next(*c, protocol::message_type::game_update);
  c->send(prediction_frame(miners_[0], prediction(miners_[0], "tls-1")));
  const auto conf = confirm(*c);
  EXPECT_EQ(conf.prediction_id, "tls-1");
  EXPECT_EQ(conf.status, "success") << conf.message;

  const auto health =
      http_request(port_, http::verb::get, "/ws/health", {}, {}, trusting(tls_.cert));
  EXPECT_EQ(health.status, 200u);
  EXPECT_NE(health.body.find("\"status\":\"online\""), std::string::npos) << health.body;
  const auto posted = http_request(port_, http::verb::post, "/predictions",
                                   prediction_frame(miners_[1], prediction(miners_[1], "tls-2")),
                                   {}, trusting(tls_.cert));
  EXPECT_EQ(posted.status, 200u);
  EXPECT_EQ(protocol::parse_confirmation(open(posted.body, &posted).data)->status, "success");
}

TEST_F(TlsTest, PlainAndDistrustingClientsAreRefusedCountedAndOthersServed) {
  use_tls();
  start();
  const auto miner = connect<wss_client>(miners_[0], 10s, "/ws", trusting(tls_.cert));

  // A ws:// client on the wss:// port: its upgrade request is not a TLS hello.
  EXPECT_ANY_THROW(ws_client plain(port_, 5s));
  // A client that trusts another certificate aborts the handshake itself.
  const auto other = make_tls_files(dir_, "other");
  EXPECT_ANY_THROW(wss_client wrong(port_, 5s, "/ws", trusting(other.cert)));
  // The server counts the second failure once it reads the client's alert.
  double failures = 0;
  for (int i = 0; i < 100 && failures < 2; ++i)
    failures = metric("bettensor_auth_failures_total{reason=\"tls\"}");
  EXPECT_EQ(failures, 2);

  miner->send(prediction_frame(miners_[0], prediction(miners_[0], "tls-3")));
  EXPECT_EQ(confirm(*miner).status, "success");
}

TEST_F(TlsTest, UnusableCertificateOrKeyStopsStartupNamingTheFile) {
  opts_.server.tls_cert_file = (dir_ / "missing.crt").string();
  opts_.server.tls_key_file = (dir_ / "missing.key").string();
  try {
    start();
    ADD_FAILURE() << "started without a certificate";
  } catch (const validator::startup_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.crt"), std::string::npos) << e.what();
  }
  const auto a = make_tls_files(dir_, "a");
  const auto b = make_tls_files(dir_, "b");
  opts_.server.tls_cert_file = a.cert.string();
  opts_.server.tls_key_file = b.key.string();
  try {
    start();
    ADD_FAILURE() << "started with another certificate's key";
  } catch (const validator::startup_error& e) {
    EXPECT_NE(std::string(e.what()).find("b.key"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("mismatch"), std::string::npos) << e.what();
  }
  service_.reset();
}

TEST_F(TlsTest, CompressionIsUsedOnlyWhenBothSidesEnableIt) {
  opts_.server.compression = true;
  start();
  const auto extensions = [](const auto& client) {
    return std::string(client.upgrade_response()[http::field::sec_websocket_extensions]);
  };
  client_extras deflate;
  deflate.deflate = true;
  ws_client both(port_, 10s, "/ws", deflate);
  EXPECT_NE(extensions(both).find("permessage-deflate"), std::string::npos);
  ws_client server_only(port_);
  EXPECT_EQ(extensions(server_only), "");

  // A large update (compressed on the wire) and a small confirmation (under the threshold) both
  // arrive intact and signed.
  both.send(auth_frame(miners_[0]));
  next(both, protocol::message_type::welcome);
  next(both, protocol::message_type::game_update);
  auto games = games_;
  for (int i = 0; i < 50; ++i) {
    auto g = games_[0];
    g.game_id = "bulk-" + std::to_string(i);
    games.push_back(g);
  }
  boost::json::array list;
  for (const auto& g : games) list.push_back(protocol::to_json(g));
  ASSERT_EQ(http_request(port_, http::verb::post, "/games", boost::json::serialize(list),
                         "Bearer " + admin_token)
                .status,
            200u);
  const auto update = next(both, protocol::message_type::game_update);
  EXPECT_NE(boost::json::serialize(update.data).find("bulk-49"), std::string::npos);
  both.send(prediction_frame(miners_[0], prediction(miners_[0], "deflate-1")));
  EXPECT_EQ(confirm(both).status, "success");
  both.close();
  server_only.close();

  stop();
  opts_.server.compression = false;
  start();
  ws_client client_only(port_, 10s, "/ws", deflate);
  EXPECT_EQ(extensions(client_only), "");
}

// The admin endpoint's loopback rule applies to the client a trusted proxy names, and a header
// from anyone else changes nothing. This test's requests come from 127.0.0.1, so naming that
// address a trusted proxy makes the test the proxy.
TEST_F(TlsTest, ForwardedForCountsOnlyFromATrustedProxy) {
  const auto post_games_as = [this](const std::string& forwarded_for) {
    boost::json::array list;
    for (const auto& g : games_) list.push_back(protocol::to_json(g));
    client_extras x;
    x.forwarded_for = forwarded_for;
    return http_request(port_, http::verb::post, "/games", boost::json::serialize(list),
                        "Bearer " + admin_token, x)
        .status;
  };
  opts_.server.trusted_proxies = {"127.0.0.1", "10.0.0.2"};
  start();
  EXPECT_EQ(post_games_as(""), 200u);                        // the proxy itself, on loopback
  EXPECT_EQ(post_games_as("203.0.113.9"), 403u);             // a remote client behind it
  EXPECT_EQ(post_games_as("127.0.0.5"), 200u);               // a loopback client behind it
  EXPECT_EQ(post_games_as("203.0.113.9, 10.0.0.2"), 403u);   // through two trusted proxies
  EXPECT_EQ(post_games_as("203.0.113.9, 127.0.0.5"), 200u);  // left of the first: the client's word
  EXPECT_EQ(post_games_as("not-an-address"), 200u);          // unreadable: the proxy's own address
  stop();

  opts_.server.trusted_proxies.clear();
  start();
  EXPECT_EQ(post_games_as("203.0.113.9"), 200u);  // not from a trusted proxy: ignored
  stop();

  opts_.server.trusted_proxies = {"proxy.example"};
  EXPECT_THROW(start(), validator::startup_error);
  service_.reset();
}

}  // namespace
}  // namespace bettensor::test
