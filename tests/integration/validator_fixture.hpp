// An in-process validator on a loopback port chosen by the kernel, with generated keys, a
// metagraph, games and an SQLite database in a temporary directory.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/signing.hpp"
#include "bettensor/test/metagraph_file.hpp"
#include "bettensor/test/sample_games.hpp"
#include "bettensor/test/tls_files.hpp"
#include "bettensor/test/ws_client.hpp"
#include "bettensor/validator/validator_service.hpp"

namespace bettensor::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline crypto::hotkey make_hotkey() {
  const crypto::keypair kp = crypto::keypair::generate();
  return {kp, crypto::ss58_encode(kp.public_key_bytes())};
}

inline const std::string admin_token = "test-admin-token-0123456789";

class ValidatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "bettensor-validator-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    validator_ = make_hotkey();
    for (int i = 0; i < 4; ++i) miners_.push_back(make_hotkey());
    write_metagraph(miners_);
    games_ = default_games();
    write_games(games_);
    std::ofstream(dir_ / "admin.token") << admin_token << '\n';
    opts_.server.address = "127.0.0.1";
    opts_.server.port = 0;
    opts_.metagraph_file = dir_ / "metagraph.json";
    opts_.games_file = dir_ / "games.json";
    opts_.admin_token_file = dir_ / "admin.token";
    opts_.db = storage::db_url::sqlite(dir_ / "validator.db");
    opts_.file_poll_interval = 1h;  // tests reload explicitly
  }

  void TearDown() override {
    if (service_) stop();
    fs::remove_all(dir_);
  }

  void start() {
    service_.emplace(ioc_, opts_, validator_);
    service_->start();
    port_ = service_->port();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  // Graceful stop; fails the test if it does not finish within 10 s.
  void stop() {
    std::promise<void> stopped;
    auto done = stopped.get_future();
    service_->stop([&stopped] { stopped.set_value(); });
    EXPECT_EQ(done.wait_for(10s), std::future_status::ready) << "graceful stop did not finish";
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    service_.reset();
    ioc_.restart();
  }

  void write_metagraph(const std::vector<crypto::hotkey>& registered) {
    std::vector<test::neuron> neurons{test::validator_neuron(0, validator_.ss58, 10401)};
    for (const auto& m : registered)
      neurons.push_back(test::miner_neuron(static_cast<std::int64_t>(uid_of(m)), m.ss58));
    test::write_metagraph(dir_ / "metagraph.json", neurons);
  }

  std::size_t uid_of(const crypto::hotkey& miner) const {
    for (std::size_t i = 0; i < miners_.size(); ++i) {
      if (miners_[i].ss58 == miner.ss58) return i + 1;
    }
    return 99;
  }

  // The two upcoming games, and one that has started.
  static std::vector<protocol::team_game> default_games() {
    auto games = upcoming_games();
    protocol::team_game started = games[0];
    started.game_id = "g-started";
    started.event_start_date = started.create_date;
    games.push_back(started);
    return games;
  }

  void write_games(const std::vector<protocol::team_game>& games) {
    boost::json::array list;
    for (const auto& g : games) list.push_back(protocol::to_json(g));
    std::ofstream(dir_ / "games.json") << boost::json::serialize(list);
  }

  protocol::team_game_prediction prediction(const crypto::hotkey& miner, std::string id,
                                            double wager = 10) const {
    protocol::team_game_prediction p;
    p.prediction_id = std::move(id);
    p.game_id = "g-1";
    p.miner_uid = std::to_string(uid_of(miner));
    p.prediction_date = protocol::format_timestamp(protocol::now_utc());
    p.predicted_outcome = "Kansas City Chiefs";
    p.predicted_odds = 1.45;
    p.team_a = "Kansas City Chiefs";
    p.team_b = "Las Vegas Raiders";
    p.team_a_odds = 1.45;
    p.team_b_odds = 2.8;
    p.wager = wager;
    p.model_name = "test";
    p.confidence_score = 0.6;
    return p;
  }

  static std::string frame(const crypto::hotkey& from, std::string_view type,
                           boost::json::value data,
                           protocol::timestamp when = protocol::now_utc()) {
    return protocol::serialize(protocol::sign_envelope(from, type, std::move(data), when));
  }

  std::string prediction_frame(const crypto::hotkey& miner,
                               const protocol::team_game_prediction& p) const {
    return frame(miner, protocol::message_type::prediction, protocol::to_json(p));
  }

  // Opens a frame from the validator, checking its signature, sender, window and nonce (each
  // client has its own replay guard, as each miner does).
  protocol::envelope open(const std::string& text, const void* receiver = nullptr) {
    const protocol::frame_expectations expect{validator_.ss58,
                                              &validator_.keypair.public_key_bytes(),
                                              protocol::now_utc(), 300s, &seen_[receiver]};
    auto e = protocol::open_envelope(text, expect);
    if (!e)
      ADD_FAILURE() << "frame from the validator does not open: " << e.error().message << "\n"
                    << text;
    return e ? std::move(*e) : protocol::envelope{};
  }

  // Reads frames until one of `type` arrives (others, e.g. game updates, are skipped).
  template <class Client>
  protocol::envelope next(Client& c, std::string_view type, int max_frames = 50) {
    for (int i = 0; i < max_frames; ++i) {
      auto text = c.read();
      if (!text) {
        ADD_FAILURE() << "no frame (" << c.error().message() << ") while waiting for " << type
                      << " (close reason: " << c.close_reason().reason << ")";
        return {};
      }
      auto e = open(*text, &c);
      if (e.type == type) return e;
    }
    ADD_FAILURE() << "no " << type << " frame within " << max_frames << " frames";
    return {};
  }

  std::string auth_frame(const crypto::hotkey& miner,
                         protocol::timestamp when = protocol::now_utc()) const {
    return protocol::serialize(protocol::make_auth_message(miner, when));
  }

  // Connects, authenticates and checks the welcome frame. `args` after the port go to the
  // client's constructor (timeout, path, client_extras).
  template <class Client = ws_client, class... Args>
  std::unique_ptr<Client> connect(const crypto::hotkey& miner, Args&&... args) {
    auto c = std::make_unique<Client>(port_, std::forward<Args>(args)...);
    c->send(auth_frame(miner));
    const auto welcome = next(*c, protocol::message_type::welcome);
    const auto w = protocol::parse_welcome(welcome.data);
    EXPECT_TRUE(w);
    if (w) {
      EXPECT_EQ(w->uid, static_cast<std::int64_t>(uid_of(miner)));
      EXPECT_EQ(w->message, "Connection established");
    }
    return c;
  }

  template <class Client>
  protocol::confirmation confirm(Client& c) {
    const auto e = next(c, protocol::message_type::confirmation);
    auto conf = protocol::parse_confirmation(e.data);
    EXPECT_TRUE(conf);
    return conf ? *conf : protocol::confirmation{};
  }

  fs::path dir_;
  crypto::hotkey validator_{crypto::keypair::generate(), ""};
  std::vector<crypto::hotkey> miners_;
  std::vector<protocol::team_game> games_;
  validator::validator_options opts_;
  boost::asio::io_context ioc_;
  std::optional<validator::validator_service> service_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::map<const void*, protocol::replay_guard> seen_;
};

}  // namespace bettensor::test
