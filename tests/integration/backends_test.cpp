// The validator on the two shared databases an operator brings:
// - the Python Bettensor validator's own SQLite file, while a Python sqlite3 process reads and
//   writes it as the neuron's scoring does (tests/interop/neuron_scoring.py): every accepted
//   prediction is a row Python reads, neither side meets "database is locked", and games
//   inserted or updated in game_data reach the connected miner;
// - one PostgreSQL database shared by two validator processes with the same hotkey behind
//   nginx: an id sent to both is stored once with one verdict, a daily limit split across both
//   stops at the limit, a game set posted to either reaches the miners of both, a hotkey's new
//   connection on one closes its old one on the other, and one SIGKILLed under load loses
//   nothing confirmed and stores nothing twice while its miners move to the other.
#include <sqlite3.h>

#include <boost/asio/connect.hpp>

#include <atomic>
#include <mutex>

#include "bettensor/test/pg_cluster.hpp"
#include "bettensor/test/sqlite_exec.hpp"
#include "miner_fixture.hpp"

namespace bettensor::test {
namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool has_game(const protocol::envelope& e, const std::string& game_id,
              std::optional<double> team_a_odds = std::nullopt) {
  const auto u = protocol::parse_game_update(e.data);
  if (!u) return false;
  return std::any_of(u->games.begin(), u->games.end(), [&](const protocol::team_game& g) {
    return g.game_id == game_id && (!team_a_odds || g.team_a_odds == *team_a_odds);
  });
}

// --- the Python validator's database ---------------------------------------------------------

class NeuronDatabaseTest : public ValidatorTest {
 protected:
  // Reads game updates until one carries `game_id` (with those odds); bounded.
  template <class Client>
  bool game_arrives(Client& c, const std::string& game_id,
                    std::optional<double> odds = std::nullopt) {
    for (int i = 0; i < 10; ++i) {
      const auto text = c.read();
      if (!text) return false;
      const auto e = open(*text, &c);
      if (e.type == protocol::message_type::game_update && has_game(e, game_id, odds)) return true;
    }
    return false;
  }

  protocol::team_game_prediction on_9001(const std::string& id) const {
    auto p = prediction(miners_[0], id, 2);
    p.game_id = "9001";
    p.team_a = "Arsenal";
    p.team_b = "Chelsea";
    p.predicted_outcome = "Arsenal";
    p.predicted_odds = 2.1;
    p.team_a_odds = 2.1;
    p.team_b_odds = 3.4;
    p.tie_odds = 3.25;
    return p;
  }
};

TEST_F(NeuronDatabaseTest, ThePythonValidatorReadsEveryAcceptedPredictionAndItsGamesReachMiners) {
  const auto file = dir_ / "validator.db";
  sqlite_exec(file, read_file(fs::path(BETTENSOR_DATA_DIR) / "bettensor_validator_tables.sql"));
  sqlite_exec(file, "INSERT INTO miner_stats (miner_uid, miner_hotkey, miner_cash) VALUES (1, '" +
                        miners_[0].ss58 + "', 250.0)");
  opts_.db = storage::db_url{storage::db_url::backend::bettensor, file, {}};
  opts_.games_file.reset();  // the games are the neuron's
  opts_.file_poll_interval = 100ms;
  start();
  const auto stop_file = dir_ / "stop";
  child_process scoring(
      {BETTENSOR_PYTHON, BETTENSOR_SCORING_SCRIPT, file.string(), stop_file.string()});
  ASSERT_TRUE(scoring.wait_for_line(std::regex("game inserted"), 20s)) << scoring.output();

  auto c = connect(miners_[0]);
  ASSERT_TRUE(game_arrives(*c, "9001")) << "game_data's new game never reached the miner";
  constexpr int n = 200;
  for (int i = 0; i < n; ++i)
    c->send(prediction_frame(miners_[0], on_9001("neuron-" + std::to_string(i))));
  std::set<std::string> accepted;
  for (int i = 0; i < n; ++i) {
    const auto conf = confirm(*c);
    EXPECT_EQ(conf.status, "success") << conf.prediction_id << ": " << conf.message;
    if (conf.status == "success") accepted.insert(conf.prediction_id);
    // The neuron's miner_stats row rides along, every value a string as the reference sends.
    ASSERT_TRUE(conf.miner_stats);
    EXPECT_EQ(conf.miner_stats->at("miner_cash"), "250.0");
  }
  EXPECT_EQ(accepted.size(), static_cast<std::size_t>(n));

  // An odds update written by another process reaches the miner too.
  sqlite_exec(file, "UPDATE game_data SET team_a_odds = 2.2 WHERE external_id = 9001");
  EXPECT_TRUE(game_arrives(*c, "9001", 2.2)) << "the odds update never reached the miner";

  std::ofstream(stop_file) << "stop\n";
  const auto summary = scoring.wait_for_line(std::regex(R"(^\{.*\}$)"), 30s);
  ASSERT_TRUE(summary) << scoring.output();
  EXPECT_EQ(scoring.wait(), 0) << scoring.output();
  const auto s = boost::json::parse((*summary)[0].str()).as_object();
  EXPECT_EQ(s.at("locked").as_int64(), 0) << "Python met 'database is locked'";
  EXPECT_TRUE(s.at("errors").as_array().empty()) << boost::json::serialize(s.at("errors"));
  EXPECT_GE(s.at("rounds").as_int64(), 5);
  std::set<std::string> read_by_python;
  for (const auto& id : s.at("ids").as_array()) read_by_python.insert(std::string(id.as_string()));
  for (const auto& id : accepted) EXPECT_TRUE(read_by_python.count(id)) << id << " not read";
}

// --- two instances on one PostgreSQL database, behind nginx ----------------------------------

std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

bool can_connect(std::uint16_t port) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  return !ec;
}

class ClusterTest : public MinerTest {
 protected:
  struct instance {
    std::unique_ptr<child_process> proc;
    std::uint16_t port = 0;
    std::mutex log_mutex;
    std::atomic<bool> stop_drain{false};
    std::thread drain;
  };

  void SetUp() override {
    MinerTest::SetUp();
    pg_.emplace();
    url_ = pg_->create_database("cluster");
    validator_ = make_wallet("validator");
  }

  void TearDown() override {
    for (auto* in : {&a_, &b_}) stop_instance(*in, SIGTERM);
    for (auto& m : miner_procs_) m->kill(SIGTERM);
    miner_procs_.clear();
    nginx_.reset();
    MinerTest::TearDown();
    pg_.reset();
  }

  void start_instance(instance& in) {
    auto args = wallet_flags("validator");
    args.insert(args.begin(), BETTENSOR_VALIDATOR_BIN);
    for (const auto* a :
         {"--websocket.address=127.0.0.1", "--websocket.port=0", "--log.level=debug"})
      args.emplace_back(a);
    args.push_back("--metagraph.file=" + (dir_ / "metagraph.json").string());
    args.push_back("--games.file=" + (dir_ / "games.json").string());
    args.push_back("--admin.token_file=" + (dir_ / "admin.token").string());
    args.push_back("--db.url=" + url_);
    in.proc = std::make_unique<child_process>(args);
    in.port = port_from(*in.proc, "listening on");
    ASSERT_NE(in.port, 0);
    ASSERT_TRUE(in.proc->wait_for_line(std::regex("Listening to the other instances"), 20s))
        << in.proc->output();
    // Keep reading its log so it never blocks on a full pipe.
    in.drain = std::thread([&in] {
      const std::regex never("(?!)");
      while (!in.stop_drain) {
        std::lock_guard lock(in.log_mutex);
        in.proc->wait_for_line(never, 20ms);
      }
    });
  }

  static void stop_instance(instance& in, int sig) {
    if (!in.proc) return;
    in.stop_drain = true;
    if (in.drain.joinable()) in.drain.join();
    in.proc->kill(sig);
    const int code = in.proc->wait();
    if (sig == SIGTERM) {
      EXPECT_EQ(code, 0) << in.proc->output();
    }
    in.proc.reset();
  }

  static std::size_t log_count(instance& in, const std::string& text) {
    std::lock_guard lock(in.log_mutex);
    const auto log = in.proc->output();
    std::size_t n = 0;
    for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  }

  static bool log_contains(instance& in, const std::string& text) {
    std::lock_guard lock(in.log_mutex);
    return in.proc->output().find(text) != std::string::npos;
  }

  // Polls (bounded) until `check` holds.
  static bool eventually(const std::function<bool()>& check, std::chrono::seconds limit = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!check()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);  // polling interval, not synchronisation
    }
    return true;
  }

  void start_both() {
    write_metagraph(miners_);
    start_instance(a_);
    start_instance(b_);
  }

  // nginx in front of both, round robin; a dead upstream is skipped (proxy_next_upstream).
  void start_nginx() {
    nginx_port_ = free_port();
    const auto d = dir_ / "nginx";
    fs::create_directories(d);
    std::ofstream(d / "nginx.conf")
        << "worker_processes 1;\ndaemon off;\npid " << (d / "nginx.pid").string() << ";\nerror_log "
        << (d / "error.log").string() << ";\nevents { worker_connections 1024; }\n"
        << "http {\n  access_log off;\n  client_body_buffer_size 1m;\n"
        << "  client_body_temp_path " << (d / "body").string() << ";\n"
        << "  proxy_temp_path " << (d / "proxy").string() << ";\n"
        << "  fastcgi_temp_path " << (d / "fastcgi").string() << ";\n"
        << "  uwsgi_temp_path " << (d / "uwsgi").string() << ";\n"
        << "  scgi_temp_path " << (d / "scgi").string() << ";\n"
        << "  map $http_upgrade $connection_upgrade { default upgrade; '' close; }\n"
        << "  upstream bettensor_validators {\n    server 127.0.0.1:" << a_.port
        << ";\n    server 127.0.0.1:" << b_.port << ";\n  }\n"
        << "  server {\n    listen 127.0.0.1:" << nginx_port_ << ";\n    location / {\n"
        << "      proxy_pass http://bettensor_validators;\n      proxy_http_version 1.1;\n"
        << "      proxy_set_header Upgrade $http_upgrade;\n"
        << "      proxy_set_header Connection $connection_upgrade;\n"
        << "      proxy_set_header Host $host;\n      proxy_read_timeout 3600s;\n    }\n  }\n}\n";
    nginx_ =
        std::make_unique<child_process>(std::vector<std::string>{BETTENSOR_NGINX, "-p", d.string(),
                                                                 "-c", (d / "nginx.conf").string()},
                                        child_process::options{true, SIGTERM});
    ASSERT_TRUE(eventually([&] { return can_connect(nginx_port_); }, 20s)) << nginx_->output();
  }

  // How many rows of `table` match `where`, as psql prints it.
  std::string rows(const std::string& table, const std::string& where) {
    auto out = pg_->psql("SELECT COUNT(*) FROM " + table + " WHERE " + where, "cluster");
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  std::string stored(const std::string& where) { return rows("channel_verdicts", where); }
  std::string stored_games_with(const std::string& game_id) {
    return rows("channel_games", "game_id = '" + game_id + "'");
  }

  std::optional<pg_cluster> pg_;
  std::string url_;
  instance a_;
  instance b_;
  std::unique_ptr<child_process> nginx_;
  std::uint16_t nginx_port_ = 0;
  std::vector<std::unique_ptr<child_process>> miner_procs_;
};

TEST_F(ClusterTest, AnIdSentToBothIsStoredOnceAndANewConnectionClosesTheOldOneElsewhere) {
  start_both();
  port_ = a_.port;
  auto on_a = connect(miners_[0]);
  on_a->send(prediction_frame(miners_[0], prediction(miners_[0], "both-1")));
  const auto first = confirm(*on_a);
  EXPECT_EQ(first.status, "success") << first.message;
  // Which connection is the older one is decided by the order of the announcements in the
  // database: the new one is made once this one's announcement has come back to A.
  ASSERT_TRUE(eventually(
      [&] { return log_contains(a_, "this connection is announced to the other instances"); }));

  port_ = b_.port;
  auto on_b = connect(miners_[0]);
  // The instance holding the older connection closes it, as one validator would.
  const auto closed = on_a->read_until_closed();
  EXPECT_EQ(closed.reason, "Client already connected: replaced by a new connection");
  EXPECT_TRUE(eventually([&] { return log_contains(a_, "connected to another instance"); }));

  on_b->send(prediction_frame(miners_[0], prediction(miners_[0], "both-1")));
  const auto again = confirm(*on_b);
  EXPECT_EQ(again.status, "success") << again.message;
  EXPECT_EQ(stored("prediction_id = 'both-1'"), "1");
  EXPECT_TRUE(eventually([&] {
    return log_contains(
        b_, "Sent confirmation for prediction both-1 via WebSocket (success, duplicate)");
  }));
}

TEST_F(ClusterTest, ADailyLimitSplitAcrossBothStopsAtTheLimit) {
  start_both();
  int accepted = 0;
  int limited = 0;
  for (int i = 0; i < 14; ++i) {
    const auto& in = i % 2 == 0 ? a_ : b_;
    const auto p = prediction(miners_[1], "split-" + std::to_string(i), 100);
    const auto r =
        http_request(in.port, http::verb::post, "/predictions", prediction_frame(miners_[1], p));
    ASSERT_EQ(r.status, 200u) << r.body;
    const auto conf = protocol::parse_confirmation(open(r.body).data);
    ASSERT_TRUE(conf);
    if (conf->status == "success") ++accepted;
    if (conf->message == "Prediction would exceed daily wager limit") ++limited;
  }
  EXPECT_EQ(accepted, 10);  // 10 × 100 = the limit of 1000, wherever each one went
  EXPECT_EQ(limited, 4);
  EXPECT_EQ(stored("accepted AND prediction_id LIKE 'split-%'"), "10");
}

TEST_F(ClusterTest, AGameSetPostedToEitherReachesTheMinersOfBoth) {
  start_both();
  port_ = a_.port;
  auto on_a = connect(miners_[0]);
  port_ = b_.port;
  auto on_b = connect(miners_[1]);
  for (const auto* target : {&a_, &b_}) {
    auto games = games_;
    games.back().game_id = target == &a_ ? "posted-to-a" : "posted-to-b";
    boost::json::array list;
    for (const auto& g : games) list.push_back(protocol::to_json(g));
    const auto r = http_request(target->port, http::verb::post, "/games",
                                boost::json::serialize(list), "Bearer " + admin_token);
    ASSERT_EQ(r.status, 200u) << r.body;
    for (auto* c : {on_a.get(), on_b.get()}) {
      bool seen = false;
      for (int i = 0; i < 10 && !seen; ++i)
        seen = has_game(next(*c, protocol::message_type::game_update), games.back().game_id);
      EXPECT_TRUE(seen) << games.back().game_id << " did not reach a miner of "
                        << (c == on_a.get() ? "A" : "B");
    }
  }
}

// Sets posted back to back, alternately to each: an instance must never serve (or store
// again) a set it read before a newer one was stored, so both end on the last one posted.
TEST_F(ClusterTest, SetsPostedBackToBackToBothEndWithBothServingTheLast) {
  start_both();
  constexpr int rounds = 12;
  std::string last;
  for (int i = 0; i < rounds; ++i) {
    const auto& target = i % 2 == 0 ? a_ : b_;
    auto games = games_;
    last = "back-to-back-" + std::to_string(i);
    games.back().game_id = last;
    boost::json::array list;
    for (const auto& g : games) list.push_back(protocol::to_json(g));
    const auto r = http_request(target.port, http::verb::post, "/games",
                                boost::json::serialize(list), "Bearer " + admin_token);
    ASSERT_EQ(r.status, 200u) << r.body;
  }
  ASSERT_TRUE(eventually([&] { return stored_games_with(last) == "1"; }));
  for (auto* in : {&a_, &b_}) {
    ASSERT_TRUE(eventually([&] {
      port_ = in->port;
      auto c = connect(miners_[in == &a_ ? 0 : 1]);
      const bool serves = has_game(next(*c, protocol::message_type::game_update), last);
      c->close();
      return serves;
    })) << (in == &a_ ? "A" : "B")
        << " does not serve " << last;
  }
  // Neither stored an older set it had read back over the last one.
  EXPECT_EQ(stored_games_with(last), "1");
}

TEST_F(ClusterTest, OneKilledUnderLoadLosesNothingConfirmedAndStoresNothingTwice) {
  constexpr int miners = 3;
  for (int m = 0; m < miners; ++m)
    miners_[static_cast<std::size_t>(m)] = make_wallet("miner-" + std::to_string(m));
  start_both();
  start_nginx();
  std::vector<std::uint16_t> apis;
  for (int m = 0; m < miners; ++m) {
    std::vector<std::string> args = wallet_flags("miner-" + std::to_string(m));
    args.insert(args.begin(), BETTENSOR_MINER_BIN);
    for (std::string a :
         {"--validator=ws://127.0.0.1:" + std::to_string(nginx_port_) + "@" + validator_.ss58,
          "--db.path=" + (dir_ / ("miner-" + std::to_string(m) + ".db")).string(),
          std::string("--api.port=0"), std::string("--strategy=none"),
          std::string("--websocket_reconnect_base_interval=0.05"),
          std::string("--websocket_max_reconnect_interval=0.3"),
          std::string("--http_fallback=false")})
      args.push_back(a);
    miner_procs_.push_back(std::make_unique<child_process>(args));
    apis.push_back(port_from(*miner_procs_.back(), "Miner API listening on"));
    ASSERT_TRUE(miner_procs_.back()->wait_for_line(std::regex("Received game update"), 20s))
        << miner_procs_.back()->output();
  }
  ASSERT_TRUE(log_contains(a_, "WebSocket connection established with miner"))
      << "nginx sent no miner to the instance about to be killed";
  const auto post_round = [&](int round) {
    for (int m = 0; m < miners; ++m) {
      for (int i = 0; i < 30; ++i) {
        const auto id =
            "k-" + std::to_string(m) + "-" + std::to_string(round) + "-" + std::to_string(i);
        const auto r = http_request(
            apis[static_cast<std::size_t>(m)], http::verb::post, "/predictions",
            boost::json::serialize(boost::json::object{{"game_id", "g-1"},
                                                       {"predicted_outcome", "Kansas City Chiefs"},
                                                       {"prediction_id", id},
                                                       {"wager", 1}}));
        ASSERT_EQ(r.status, 202u) << r.body;
      }
    }
  };
  const std::string established = "WebSocket connection established with miner";
  const auto on_a = log_count(a_, established);
  const auto on_b_before = log_count(b_, established);
  post_round(0);
  stop_instance(a_, SIGKILL);  // with round 0 in flight
  post_round(1);
  for (const auto api : apis) {
    EXPECT_TRUE(eventually(
        [&] {
          const auto r = http_request(api, http::verb::get, "/status");
          if (r.status != 200) return false;
          const auto s = boost::json::parse(r.body).as_object();
          return s.at("pending").to_number<int>() == 0 &&
                 s.at("predictions").to_number<int>() == 60;
        },
        60s))
        << "a miner still has predictions unconfirmed";
  }
  // Every prediction the miners had confirmed is stored, once, accepted.
  EXPECT_EQ(stored("prediction_id LIKE 'k-%'"), std::to_string(miners * 60));
  EXPECT_EQ(stored("accepted AND prediction_id LIKE 'k-%'"), std::to_string(miners * 60));
  EXPECT_EQ(pg_->psql("SELECT COUNT(DISTINCT prediction_id) FROM channel_verdicts WHERE "
                      "prediction_id LIKE 'k-%'",
                      "cluster"),
            std::to_string(miners * 60) + "\n");
  // The killed instance's miners came back through nginx to the other one.
  EXPECT_GE(log_count(b_, established), on_b_before + on_a);
}

}  // namespace
}  // namespace bettensor::test
