// Attacks on the real bettensor-validator binary, run as a child process so that its memory is
// its own. While each attack runs, an authenticated miner keeps sending predictions in another
// thread; each test checks what the validator did to the attacker, the metric that counted it,
// that the miner was served throughout (every prediction confirmed, game updates received) and
// that the validator's peak memory (VmHWM, reset before the attack) stayed bounded. The figures
// are printed as "[attack] ..." lines; the README quotes them.
#include <sys/resource.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>

#include "bettensor/test/child_process.hpp"
#include "miner_fixture.hpp"

namespace bettensor::test {
namespace {

#if defined(__has_feature)
#if __has_feature(address_sanitizer)  // clang's spelling
#define BETTENSOR_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(BETTENSOR_UNDER_ASAN)
// Under AddressSanitizer the validator's shadow memory and quarantine would be counted: the
// attacks run, the memory bound is only printed.
constexpr bool memory_bounded = false;
#else
constexpr bool memory_bounded = true;
#endif

class AttackTest : public MinerTest {
 protected:
  static void SetUpTestSuite() {
    // Thousands of sockets on both ends: raise the soft descriptor limit to the hard one (the
    // validator child inherits it).
    rlimit r{};
    ::getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }

  void TearDown() override {
    stop_steady();
    if (proc_) {
      stop_drain_ = true;
      if (drain_.joinable()) drain_.join();
      proc_->kill(SIGTERM);
      EXPECT_EQ(proc_->wait(), 0) << "the validator did not exit cleanly";
    }
    MinerTest::TearDown();
  }

  void start_validator(const std::vector<std::string>& extra = {}) {
    validator_ = make_wallet("validator");
    write_metagraph(miners_);
    auto args = wallet_flags("validator");
    args.insert(args.begin(), BETTENSOR_VALIDATOR_BIN);
    for (const auto* a :
         {"--websocket.address=127.0.0.1", "--websocket.port=0", "--websocket.handshake_timeout=2",
          "--log.level=info", "--predictions.daily_wager_limit=1e12"})
      args.emplace_back(a);
    args.push_back("--metagraph.file=" + (dir_ / "metagraph.json").string());
    args.push_back("--games.file=" + (dir_ / "games.json").string());
    args.push_back("--admin.token_file=" + (dir_ / "admin.token").string());
    args.push_back("--db.path=" + (dir_ / "attacked.db").string());
    args.insert(args.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<child_process>(args);
    port_ = port_from(*proc_, "listening on");
    ASSERT_NE(port_, 0);
    // Keep reading the validator's log so it never blocks on a full pipe.
    drain_ = std::thread([this] {
      const std::regex never("(?!)");
      while (!stop_drain_) {
        std::lock_guard lock(log_mutex_);
        proc_->wait_for_line(never, 20ms);
      }
    });
  }

  bool log_contains(const std::string& text) {
    std::lock_guard lock(log_mutex_);
    return proc_->output().find(text) != std::string::npos;
  }

  // --- the validator's memory ------------------------------------------------------------------
  double status_mib(const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(proc_->pid()) + "/status");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024;
    }
    ADD_FAILURE() << "no " << field << " in /proc/PID/status";
    return 0;
  }
  // Called just before an attack starts.
  void reset_peak() {
    std::ofstream("/proc/" + std::to_string(proc_->pid()) + "/clear_refs") << "5";
    baseline_mib_ = status_mib("VmRSS");
    ok_before_attack_ = steady_ok_;
  }
  // Peak resident memory since reset_peak(), minus the resident memory then.
  double peak_growth_mib() { return status_mib("VmHWM") - baseline_mib_; }

  // --- metrics -----------------------------------------------------------------------------------
  double metric(const std::string& series) {
    const auto r = http_request(port_, http::verb::get, "/metrics");
    const auto at = r.body.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(r.body.substr(at + series.size() + 2));
  }
  // Polls /metrics (bounded) until the series reaches `at_least`; returns its last value.
  double metric_reaches(const std::string& series, double at_least) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    double v = metric(series);
    while (v < at_least && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);  // polling interval
      v = metric(series);
    }
    EXPECT_GE(v, at_least) << series;
    return v;
  }

  // --- the miner that must keep being served -------------------------------------------------
  // Sends a prediction every 10 ms (within the default rate limit) and waits for its
  // confirmation; counts game updates seen meanwhile.
  void start_steady() {
    steady_ = std::thread([this] {
      auto c = connect(miners_[0]);
      for (int n = 0; !stop_steady_; ++n) {
        c->send(
            prediction_frame(miners_[0], prediction(miners_[0], "steady-" + std::to_string(n), 1)));
        for (;;) {
          auto text = c->read();
          if (!text) {
            ADD_FAILURE() << "the steady miner was disconnected: " << c->close_reason().reason;
            return;
          }
          const auto e = open(*text, c.get());
          if (e.type == protocol::message_type::game_update) ++steady_updates_;
          if (e.type != protocol::message_type::confirmation) continue;
          const auto conf = protocol::parse_confirmation(e.data);
          ++(conf && conf->status == "success" ? steady_ok_ : steady_failed_);
          break;
        }
        std::this_thread::sleep_for(10ms);  // pacing, not synchronisation
      }
    });
    steady_since_ = std::chrono::steady_clock::now();
    wait_for_steady(1);
  }
  // Bounded wait until the steady miner has `n` confirmations in all.
  void wait_for_steady(int n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (steady_ok_ < n && steady_failed_ == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);  // polling interval
    EXPECT_GE(steady_ok_.load(), n) << "the steady miner is not being served";
  }
  void stop_steady() {
    if (!steady_.joinable()) return;
    stop_steady_ = true;
    steady_.join();
    steady_seconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - steady_since_).count();
  }

  // Stops the steady miner, checks it was served, and prints the figures of the attack.
  void report(const std::string& attack, const std::string& what) {
    wait_for_steady(ok_before_attack_ + 3);  // still served after the attack
    stop_steady();
    const double growth = peak_growth_mib();
    EXPECT_EQ(steady_failed_.load(), 0);
    if (memory_bounded) {
      EXPECT_LT(growth, 32.0) << "the validator's peak memory grew by " << growth << " MiB";
    }
    std::printf(
        "[attack] %s: %s | validator RSS %.1f MiB before, peak +%.1f MiB | steady miner: %d "
        "confirmed (%.0f/s), %d failed, %d game updates\n",
        attack.c_str(), what.c_str(), baseline_mib_, growth, steady_ok_.load(),
        steady_ok_.load() / steady_seconds_, steady_failed_.load(), steady_updates_.load());
  }

  std::unique_ptr<child_process> proc_;
  std::thread drain_;
  std::atomic<bool> stop_drain_{false};
  std::mutex log_mutex_;
  double baseline_mib_ = 0;
  int ok_before_attack_ = 0;
  std::thread steady_;
  std::atomic<bool> stop_steady_{false};
  std::atomic<int> steady_ok_{0}, steady_failed_{0}, steady_updates_{0};
  std::chrono::steady_clock::time_point steady_since_;
  double steady_seconds_ = 1;
};

// Reads until the peer closes the TCP connection (true) or `timeout` passes (false).
bool closed_by_peer(tcp::socket& s, std::chrono::seconds timeout) {
  set_receive_timeout(s, timeout);
  char buf[256];
  boost::system::error_code ec;
  for (;;) {
    s.read_some(boost::asio::buffer(buf), ec);
    if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) return true;
    if (ec) return false;  // the receive timeout
  }
}

TEST_F(AttackTest, UnauthenticatedFloodIsTimedOutWhileMinersAreServed) {
  start_validator({"--websocket.max_connections=5000"});
  start_steady();
  reset_peak();
  constexpr int upgraded_count = 1000;
  constexpr int silent_count = 1000;
  boost::asio::io_context ioc;
  std::vector<tcp::socket> silent;
  for (int i = 0; i < silent_count; ++i) {
    auto& s = silent.emplace_back(ioc);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port_});
  }
  std::vector<std::unique_ptr<ws_client>> upgraded;
  for (int i = 0; i < upgraded_count; ++i) upgraded.push_back(std::make_unique<ws_client>(port_));
  const double open_at_peak = metric("bettensor_connections_open");

  // The handshake timeout (2 s here) ends both kinds.
  int timed_out = 0;
  for (auto& c : upgraded) {
    const auto why = c->read_until_closed();
    timed_out += why.code == 1008 && why.reason == "Authentication timeout" ? 1 : 0;
  }
  EXPECT_EQ(timed_out, upgraded_count);
  int dropped = 0;
  for (auto& s : silent) dropped += closed_by_peer(s, 10s) ? 1 : 0;
  EXPECT_EQ(dropped, silent_count);
  metric_reaches("bettensor_auth_failures_total{reason=\"timeout\"}", upgraded_count);
  metric_reaches("bettensor_http_timeouts_total{request=\"idle\"}", silent_count);
  EXPECT_TRUE(log_contains("no authentication within 2s"));
  report("connection flood",
         std::to_string(upgraded_count) + " upgraded + " + std::to_string(silent_count) +
             " silent sockets, " + std::to_string(static_cast<int>(open_at_peak)) +
             " open WebSocket connections at the peak, all closed by the 2 s handshake timeout");
}

TEST_F(AttackTest, SlowlorisHeadersAreCutOffAtTheHandshakeTimeout) {
  start_validator();
  start_steady();
  reset_peak();
  constexpr int count = 300;
  boost::asio::io_context ioc;
  std::vector<tcp::socket> sockets;
  for (int i = 0; i < count; ++i) {
    auto& s = sockets.emplace_back(ioc);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port_});
    boost::asio::write(s, boost::asio::buffer(std::string("GET /ws HTTP/1.1\r\nHost: x\r\n")));
  }
  // One more header line per socket every 250 ms, never the blank line that ends them.
  std::vector<bool> alive(count, true);
  int still_open = count;
  int rounds = 0;
  for (; still_open > 0 && rounds < 40; ++rounds) {
    std::this_thread::sleep_for(250ms);  // the attacker's pace
    for (int i = 0; i < count; ++i) {
      if (!alive[i]) continue;
      boost::system::error_code ec;
      boost::asio::write(sockets[i], boost::asio::buffer(std::string("X-Slow: 1\r\n")), ec);
      char probe = 0;
      const auto n = ::recv(sockets[i].native_handle(), &probe, 1, MSG_DONTWAIT);
      if (ec || n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        alive[i] = false;
        --still_open;
      }
    }
  }
  // 40 rounds are 10 s: five times the handshake timeout.
  EXPECT_EQ(still_open, 0) << "slowloris connections outlived 10 s";
  metric_reaches("bettensor_http_timeouts_total{request=\"partial\"}", count);
  report("slowloris", std::to_string(count) +
                          " sockets dribbling header lines every 250 ms, all "
                          "closed within " +
                          std::to_string(rounds * 250) + " ms");
}

TEST_F(AttackTest, FrameBombIsRefusedFromItsHeader) {
  start_validator();
  auto attacker = connect(miners_[1]);
  ws_client anonymous(port_);
  start_steady();
  reset_peak();
  // A masked text frame that announces 2^62 bytes, then 64 KiB of it.
  std::string bomb = {'\x81', '\xff', '\x40', 0, 0, 0, 0, 0, 0, 0, '\x11', '\x22', '\x33', '\x44'};
  bomb += std::string(64 * 1024, 'x');
  for (auto* c : {attacker.get(), &anonymous}) {
    boost::system::error_code ec;
    boost::asio::write(c->next_layer(), boost::asio::buffer(bomb), ec);
    const auto why = c->read_until_closed();
    EXPECT_EQ(why.code, 1009) << why.reason;
  }
  metric_reaches("bettensor_connections_closed_total{reason=\"oversized\"}", 2);
  report("frame bomb",
         "a frame announcing 2^62 bytes, from an authenticated and an "
         "unauthenticated socket: both closed with 1009 on the header");
}

TEST_F(AttackTest, CompressionBombIsStoppedAtTheMessageLimit) {
  start_validator({"--websocket.compression=true"});
  client_extras deflate;
  deflate.deflate = true;
  auto attacker = connect<ws_client>(miners_[1], 10s, "/ws", deflate);
  start_steady();
  reset_peak();
  // 32 MiB of one letter deflates to about 32 KiB; the limit is 64 KiB inflated.
  const std::string bomb(32u << 20, 'a');
  bool cut_off = false;
  try {
    attacker->send(bomb);
  } catch (const boost::system::system_error&) {
    cut_off = true;  // the validator closed the connection before the message was written
  }
  // Either way the connection ends: a close frame (1009) when the client was done writing,
  // otherwise the write fails.
  const auto why = attacker->read_until_closed();
  EXPECT_TRUE(cut_off || why.code == 1009) << why.code << " " << why.reason;
  metric_reaches("bettensor_connections_closed_total{reason=\"oversized\"}", 1);
  EXPECT_TRUE(log_contains("(" + miners_[1].ss58 + "): frame over 65536 bytes"));
  report("compression bomb",
         "32 MiB inflating from ~32 KiB: closed as oversized once past the "
         "64 KiB message limit");
}

TEST_F(AttackTest, NonceReplayStormStoresThePredictionOnce) {
  start_validator();
  auto attacker = connect(miners_[1]);
  start_steady();
  reset_peak();
  const std::string frame = prediction_frame(miners_[1], prediction(miners_[1], "replayed", 1));
  int sent = 0;
  try {
    for (; sent < 10'000; ++sent) attacker->send(frame);
  } catch (const boost::system::system_error&) {
    // closed by the validator part-way
  }
  // The first copy is stored; its confirmation may not be sent, since the connection is being
  // closed by then (a real miner re-sends after reconnecting and gets the stored verdict).
  int replay_errors = 0;
  while (auto text = attacker->read())
    replay_errors += text->find("nonce already used") != std::string::npos ? 1 : 0;
  EXPECT_EQ(attacker->close_reason().code, 1008);
  EXPECT_EQ(attacker->close_reason().reason, "Too many invalid messages");
  EXPECT_EQ(replay_errors, 21);
  // The same frame on a new connection is refused too (the nonce guard is the validator's).
  auto again = connect(miners_[1]);
  again->send(frame);
  bool refused = false;
  for (int i = 0; i < 5 && !refused; ++i) {  // after the game update sent on connect
    const auto text = again->read();
    ASSERT_TRUE(text);
    refused = text->find("nonce already used") != std::string::npos;
  }
  EXPECT_TRUE(refused);
  metric_reaches("bettensor_connections_closed_total{reason=\"invalid_frames\"}", 1);
  metric_reaches("bettensor_invalid_frames_total", 22);
  report("nonce-replay storm", std::to_string(sent) +
                                   " copies of one signed prediction: 21 refused "
                                   "as replays, then closed (1008); replay on a new connection "
                                   "refused; stored once");
  EXPECT_EQ(stored_rows(dir_ / "attacked.db", "replayed"), 1u);
}

TEST_F(AttackTest, BadSignatureFloodIsRateLimitedThenClosed) {
  // The invalid-frame limit (20 by default) is raised so the rate limit is what stops it.
  start_validator({"--websocket.max_invalid_frames=100000"});
  auto attacker = connect(miners_[1]);
  start_steady();
  reset_peak();
  std::vector<std::string> frames;
  for (int i = 0; i < 10'000; ++i) {
    auto f = prediction_frame(miners_[1], prediction(miners_[1], "forged-" + std::to_string(i), 1));
    const auto sig = f.find("\"signature\": \"") + 14;
    f[sig] = f[sig] == 'a' ? 'b' : 'a';  // one hex digit of the signature changed
    frames.push_back(std::move(f));
  }
  int sent = 0;
  const auto started = std::chrono::steady_clock::now();
  try {
    for (const auto& f : frames) {
      attacker->send(f);
      ++sent;
    }
  } catch (const boost::system::system_error&) {
    // closed by the validator part-way
  }
  int refused = 0;
  while (auto text = attacker->read())
    refused += text->find("invalid signature") != std::string::npos ? 1 : 0;
  EXPECT_EQ(attacker->close_reason().code, 1008);
  EXPECT_EQ(attacker->close_reason().reason, "Rate limit exceeded");
  // The bucket holds 400 and refills 100 per second while the validator verifies: at most that
  // many are refused before it runs dry (slow builds, e.g. under ASan, verify for longer).
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_GE(refused, 400);
  EXPECT_LE(refused, 401 + 100 * seconds);
  metric_reaches("bettensor_connections_closed_total{reason=\"rate_limited\"}", 1);
  metric_reaches("bettensor_invalid_frames_total", refused);
  report("bad signatures", std::to_string(sent) +
                               " forged predictions written: " + std::to_string(refused) +
                               " verified and refused, then closed by the rate limit (1008)");
  EXPECT_EQ(stored_rows(dir_ / "attacked.db", "forged-0"), 0u);
}

TEST_F(AttackTest, SlowConsumerIsDroppedAndOthersGetEveryUpdate) {
  start_validator({"--websocket.send_queue=32"});
  auto attacker = connect(miners_[1]);
  // A small receive window so the kernel buffers little for the attacker.
  attacker->next_layer().set_option(boost::asio::socket_base::receive_buffer_size(4096));
  start_steady();
  reset_peak();
  auto games = default_games();
  constexpr int updates = 300;
  for (int i = 0; i < 50; ++i) {  // a 50-game update of about 20 KB
    auto g = games[0];
    g.game_id = "bulk-" + std::to_string(i);
    games.push_back(g);
  }
  for (int i = 0; i < updates; ++i) {
    games.back().team_a_odds = 1.01 + i / 1000.0;  // the miner's game g-1 stays as it is
    boost::json::array list;
    for (const auto& g : games) list.push_back(protocol::to_json(g));
    const auto r = http_request(port_, http::verb::post, "/games", boost::json::serialize(list),
                                "Bearer " + admin_token);
    ASSERT_EQ(r.status, 200u) << r.body;
  }
  metric_reaches("bettensor_slow_consumer_drops_total", 1);
  metric_reaches("bettensor_connections_closed_total{reason=\"slow_consumer\"}", 1);
  EXPECT_TRUE(log_contains("Closing slow consumer " + miners_[1].ss58));
  // The steady miner reads every update (bounded wait for the last ones in flight).
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (steady_updates_ < updates && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);  // polling interval
  report("slow consumer", std::to_string(updates) +
                              " game updates of ~20 KB to a miner that reads nothing: dropped "
                              "when its 32-frame queue filled");
  EXPECT_GE(steady_updates_.load(), updates) << "the steady miner missed game updates";
}

}  // namespace
}  // namespace bettensor::test
