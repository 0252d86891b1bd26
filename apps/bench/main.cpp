// bettensor-bench: a load generator speaking the real wire format with real keys (see --help).
// It generates miner keys, a metagraph and games, starts bettensor-validator as a child process
// (so the server's CPU time can be read from /proc/<pid>/stat), and measures it.
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "bettensor/cli/options.hpp"
#include "bettensor/crypto/sr25519.hpp"
#include "bettensor/crypto/ss58.hpp"
#include "bettensor/crypto/wallet.hpp"
#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/replay_guard.hpp"
#include "bettensor/protocol/signing.hpp"

extern char** environ;

namespace po = boost::program_options;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace fs = std::filesystem;
namespace json = boost::json;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;
using namespace bettensor;
using namespace std::chrono_literals;

namespace {

struct settings {
  std::string mode = "throughput";
  double rate = 2000;  // latency mode: predictions per second offered, in total
  int connections = 50;
  int inflight = 8;
  double duration = 10;
  double verify_sample = 0.01;
  fs::path validator_bin;
  std::optional<fs::path> json_out;
};

// CPU seconds (user + system) of a process, from /proc/<pid>/stat.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  std::vector<std::string> v;
  while (fields >> f) v.push_back(f);
  if (v.size() < 13) return 0;
  return (std::stod(v[11]) + std::stod(v[12])) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

std::uint16_t free_port() {
  net::io_context ioc;
  tcp::acceptor a(ioc, {net::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// The validator under test, as a child process.
class validator_process {
 public:
  validator_process(const fs::path& bin, std::vector<std::string> args) {
    args.insert(args.begin(), bin.string());
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("cannot start " + bin.string());
  }
  ~validator_process() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// One crypto floor: an sr25519 verify plus a sign, the per-prediction work a validator cannot
// avoid, measured in this process on a message of a prediction's size.
double crypto_floor_seconds() {
  const auto kp = crypto::keypair::generate();
  std::vector<std::uint8_t> msg(800, 'x');
  constexpr int n = 400;
  const auto t0 = steady::now();
  crypto::signature sig{};
  for (int i = 0; i < n; ++i) sig = kp.sign(msg);
  bool ok = true;
  for (int i = 0; i < n; ++i) ok &= crypto::verify(msg, sig, kp.public_key_bytes());
  const auto t2 = steady::now();
  if (!ok) throw std::runtime_error("self-check of sr25519 failed");
  return std::chrono::duration<double>(t2 - t0).count() / n;
}

protocol::team_game game() {
  protocol::team_game g;
  g.game_id = "bench-1";
  g.team_a = "Lions";
  g.team_b = "Tigers";
  g.sport = "football";
  g.league = "NFL";
  g.create_date = g.last_update_date = protocol::format_timestamp(protocol::now_utc());
  g.event_start_date = protocol::format_timestamp(protocol::now_utc() + 24h);
  g.team_a_odds = 1.8;
  g.team_b_odds = 2.1;
  return g;
}

std::string prediction_frame(const crypto::hotkey& miner, std::uint64_t n,
                             const protocol::team_game& g) {
  protocol::team_game_prediction p;
  p.prediction_id = miner.ss58.substr(0, 12) + "-" + std::to_string(n);
  p.game_id = g.game_id;
  p.miner_uid = "1";
  p.prediction_date = protocol::format_timestamp(protocol::now_utc());
  p.predicted_outcome = g.team_a;
  p.predicted_odds = g.team_a_odds;
  p.team_a = g.team_a;
  p.team_b = g.team_b;
  p.team_a_odds = g.team_a_odds;
  p.team_b_odds = g.team_b_odds;
  p.wager = 1;
  p.model_name = "bench";
  p.confidence_score = 0.5;
  return protocol::serialize(
      protocol::sign_envelope(miner, protocol::message_type::prediction, to_json(p)));
}

struct shared_state {
  std::atomic<std::uint64_t> confirmed{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> verified{0};
  std::atomic<std::uint64_t> bad{0};
  std::atomic<int> ready{0};
  std::atomic<bool> measuring{false};
  std::atomic<bool> done{false};
  steady::time_point t0;          // written before `measuring` is set
  std::vector<double> latencies;  // latency mode; touched on the io thread only
};

// Latency mode: the n-th prediction of connection `index` is due at t0 + (n*C + index) / rate,
// whatever happened before (open loop), and its latency is measured from that intended time,
// so a stall shows up in the latencies instead of lowering the offered rate.
struct paced {
  std::vector<steady::time_point> intended;
};

net::awaitable<void> paced_writer(std::shared_ptr<websocket::stream<beast::tcp_stream>> ws,
                                  std::shared_ptr<paced> pace, std::vector<std::string> frames,
                                  int index, const settings& s, shared_state& st,
                                  crypto::hotkey key, protocol::team_game g) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer timer(ex);
  const double period = static_cast<double>(s.connections) / s.rate;
  const auto end = st.t0 + std::chrono::duration_cast<steady::duration>(
                               std::chrono::duration<double>(s.duration));
  for (std::size_t n = 0;; ++n) {
    const auto due =
        st.t0 +
        std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(
            (static_cast<double>(n) + static_cast<double>(index) / s.connections) * period));
    if (due >= end || st.done) co_return;
    timer.expires_at(due);
    co_await timer.async_wait(net::use_awaitable);
    std::string frame = n < frames.size() ? std::move(frames[n]) : prediction_frame(key, n, g);
    pace->intended.resize(n + 1);
    pace->intended[n] = due;
    co_await ws->async_write(net::buffer(frame), net::use_awaitable);
  }
}

// One miner: authenticate, then keep `inflight` predictions outstanding until told to stop.
net::awaitable<void> miner(std::uint16_t port, crypto::hotkey key, crypto::hotkey validator,
                           std::vector<std::string> frames, const settings& s, shared_state& st,
                           protocol::team_game g, int index) {
  auto ex = co_await net::this_coro::executor;
  auto wsp = std::make_shared<websocket::stream<beast::tcp_stream>>(ex);
  auto& ws = *wsp;
  tcp::resolver resolver(ex);
  co_await beast::get_lowest_layer(ws).async_connect(
      co_await resolver.async_resolve("127.0.0.1", std::to_string(port), net::use_awaitable),
      net::use_awaitable);
  beast::get_lowest_layer(ws).socket().set_option(tcp::no_delay(true));
  co_await ws.async_handshake("127.0.0.1", "/ws", net::use_awaitable);
  co_await ws.async_write(net::buffer(protocol::serialize(protocol::make_auth_message(key))),
                          net::use_awaitable);
  beast::flat_buffer buf;
  for (;;) {  // welcome, then the current games
    buf.clear();
    co_await ws.async_read(buf, net::use_awaitable);
    if (beast::buffers_to_string(buf.data()).find("game_update") != std::string::npos) break;
  }
  ++st.ready;
  while (!st.measuring) {
    net::steady_timer t(ex, 1ms);
    co_await t.async_wait(net::use_awaitable);
  }
  std::uint64_t next = 0;
  const auto send_next = [&]() -> std::string {
    if (next < frames.size()) return std::move(frames[next++]);
    return prediction_frame(key, 1'000'000 + next++, g);  // the pool ran out: sign now
  };
  const bool open_loop = s.mode == "latency";
  auto pace = std::make_shared<paced>();
  if (open_loop) {
    net::co_spawn(ex, paced_writer(wsp, pace, std::move(frames), index, s, st, key, g),
                  net::detached);
  } else {
    for (int i = 0; i < s.inflight; ++i)
      co_await ws.async_write(net::buffer(send_next()), net::use_awaitable);
  }
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> coin(0, 1);
  protocol::replay_guard nonces;
  for (;;) {
    buf.clear();
    co_await ws.async_read(buf, net::use_awaitable);
    const std::string_view text(static_cast<const char*>(buf.cdata().data()), buf.size());
    if (text.find("\"confirmation\"") == std::string_view::npos) continue;
    if (coin(rng) < s.verify_sample) {  // check a sample end to end, signature included
      const protocol::frame_expectations expect{validator.ss58,
                                                &validator.keypair.public_key_bytes(),
                                                protocol::now_utc(), 300s, &nonces};
      (protocol::open_envelope(text, expect) ? st.verified : st.bad)++;
    }
    if (st.measuring) {
      (text.find("\"success\"") != std::string_view::npos ? st.confirmed : st.rejected)++;
    }
    if (open_loop) {
      const auto now = steady::now();
      constexpr std::string_view key_text = "\"prediction_id\": \"";
      const auto at = text.find(key_text);
      const auto end = at == std::string_view::npos ? at : text.find('"', at + key_text.size());
      const auto dash = at == std::string_view::npos ? at : text.rfind('-', end);
      if (dash != std::string_view::npos) {
        const auto n = std::stoull(std::string(text.substr(dash + 1, end - dash - 1)));
        if (n < pace->intended.size())
          st.latencies.push_back(std::chrono::duration<double>(now - pace->intended[n]).count());
      }
      if (st.done) break;
      continue;
    }
    if (st.done) break;
    co_await ws.async_write(net::buffer(send_next()), net::use_awaitable);
  }
  beast::error_code ignored;
  beast::get_lowest_layer(ws).socket().close(ignored);
}

void print_latency(const settings& s, shared_state& st) {
  auto& l = st.latencies;
  std::sort(l.begin(), l.end());
  const auto pct = [&l](double p) {
    if (l.empty()) return 0.0;
    const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(l.size() - 1));
    return l[i] * 1e3;
  };
  const double expected = s.rate * s.duration;
  std::printf(
      "\nlatency: %.0f predictions/s offered open loop over %d connections for %.1f s (method: "
      "each\nprediction has an intended send time; latency = confirmation received - intended "
      "time)\n",
      s.rate, s.connections, s.duration);
  std::printf("  %-28s %10.0f\n", "offered", expected);
  std::printf("  %-28s %10zu\n", "confirmed", l.size());
  for (const auto& [name, p] : {std::pair{"p50 ms", 50.0},
                                {"p90 ms", 90.0},
                                {"p99 ms", 99.0},
                                {"p99.9 ms", 99.9},
                                {"max ms", 100.0}})
    std::printf("  %-28s %10.3f\n", name, pct(p));
  std::printf("  %-28s %7llu/%llu\n", "confirmations verified",
              static_cast<unsigned long long>(st.verified.load()),
              static_cast<unsigned long long>(st.verified.load()) +
                  static_cast<unsigned long long>(st.bad.load()));
  if (s.json_out) {
    std::ofstream(*s.json_out) << json::serialize(json::object{{"mode", "latency"},
                                                               {"rate", s.rate},
                                                               {"connections", s.connections},
                                                               {"seconds", s.duration},
                                                               {"confirmed", l.size()},
                                                               {"p50_ms", pct(50)},
                                                               {"p90_ms", pct(90)},
                                                               {"p99_ms", pct(99)},
                                                               {"p999_ms", pct(99.9)},
                                                               {"max_ms", pct(100)}})
                               << '\n';
  }
}

int run(const settings& s) {
  const fs::path dir =
      fs::temp_directory_path() / ("bettensor-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const crypto::wallet_location where{dir / "wallets", "validator", "default"};
  auto validator = crypto::create_hotkey(where.hotkey_file(), true);
  if (!validator) throw std::runtime_error(validator.error().message);
  std::vector<crypto::hotkey> miners;
  json::array neurons{json::object{{"uid", 0},
                                   {"hotkey", validator->ss58},
                                   {"validator_permit", true},
                                   {"stake", 1.0},
                                   {"axon", {{"ip", "127.0.0.1"}, {"port", 0}}}}};
  for (int i = 0; i < s.connections; ++i) {
    const auto kp = crypto::keypair::generate();
    miners.push_back({kp, crypto::ss58_encode(kp.public_key_bytes())});
    neurons.push_back(json::object{{"uid", i + 1},
                                   {"hotkey", miners.back().ss58},
                                   {"validator_permit", false},
                                   {"stake", 1.0},
                                   {"axon", {{"ip", "0.0.0.0"}, {"port", 0}}}});
  }
  std::ofstream(dir / "metagraph.json")
      << json::serialize(json::object{{"netuid", 30}, {"block", 1}, {"neurons", neurons}});
  const auto g = game();
  std::ofstream(dir / "games.json") << protocol::to_canonical(json::array{protocol::to_json(g)});

  // Sign the predictions before the clock starts, so the load generator measures the server.
  const double offered = s.mode == "latency" ? s.rate : 20000;
  const auto per_conn = static_cast<std::size_t>(offered * s.duration / s.connections) + 64;
  std::vector<std::vector<std::string>> pools(miners.size());
  const auto sign0 = steady::now();
  for (std::size_t i = 0; i < miners.size(); ++i)
    for (std::size_t n = 0; n < per_conn; ++n)
      pools[i].push_back(prediction_frame(miners[i], n, g));
  const double presign = std::chrono::duration<double>(steady::now() - sign0).count();

  const double floor = crypto_floor_seconds();  // before the server competes for the cores
  const auto port = free_port();
  validator_process server(
      s.validator_bin,
      {"--wallet.path=" + (dir / "wallets").string(), "--wallet.name=validator",
       "--metagraph.file=" + (dir / "metagraph.json").string(),
       "--games.file=" + (dir / "games.json").string(), "--db.path=" + (dir / "bench.db").string(),
       "--websocket.address=127.0.0.1", "--websocket.port=" + std::to_string(port),
       "--websocket.rate_limit=1000000", "--websocket.rate_burst=1000000",
       "--predictions.daily_wager_limit=1e15", "--log.level=warn"});
  for (int i = 0;; ++i) {  // until it listens
    net::io_context probe;
    tcp::socket sock(probe);
    beast::error_code ec;
    sock.connect({net::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) break;
    if (i > 500) throw std::runtime_error("the validator did not start");
    std::this_thread::sleep_for(10ms);
  }

  shared_state st;  // outlives the io_context and the coroutine frames it destroys
  net::io_context ioc(1);
  for (std::size_t i = 0; i < miners.size(); ++i)
    net::co_spawn(
        ioc, miner(port, miners[i], *validator, std::move(pools[i]), s, st, g, static_cast<int>(i)),
        [&st](const std::exception_ptr& e) {
          if (e && !st.done) {
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& x) {
              std::cerr << "bettensor-bench: connection failed: " << x.what() << '\n';
            }
          }
        });
  std::thread driver([&] {
    while (st.ready < s.connections) std::this_thread::sleep_for(5ms);
    const double server0 = cpu_seconds(server.pid());
    const double client0 = own_cpu_seconds();
    const auto t0 = steady::now();
    st.t0 = t0;
    st.measuring = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(s.duration));
    if (s.mode == "latency") {
      // The writers stop at the end by themselves; give the last answers time to arrive, then
      // end every connection (a reader may be waiting for nothing).
      std::this_thread::sleep_for(1s);
      st.done = true;
      ioc.stop();
      return;
    }
    st.done = true;
    const double elapsed = std::chrono::duration<double>(steady::now() - t0).count();
    const double server_cpu = cpu_seconds(server.pid()) - server0;
    const double client_cpu = own_cpu_seconds() - client0;
    const auto n = static_cast<double>(st.confirmed + st.rejected);
    const double per = n > 0 ? server_cpu / n : 0;
    std::printf(
        "\nthroughput: %d connections, %d in flight each, %.1f s (method: predictions signed "
        "beforehand, %.1f s;\nconfirmations counted while measuring; CPU from /proc; crypto "
        "floor = one sr25519 sign + verify here)\n",
        s.connections, s.inflight, elapsed, presign);
    std::printf("%-34s %14s\n", "confirmed predictions/s", "");
    std::printf("  %-32s %12.0f\n", "rate", n / elapsed);
    std::printf("  %-32s %12llu\n", "accepted", static_cast<unsigned long long>(st.confirmed));
    std::printf("  %-32s %12llu\n", "rejected", static_cast<unsigned long long>(st.rejected));
    std::printf("  %-32s %12.1f\n", "server CPU µs per prediction", per * 1e6);
    std::printf("  %-32s %12.1f\n", "crypto floor µs (sign+verify)", floor * 1e6);
    std::printf("  %-32s %12.2f\n", "crypto floor ratio", floor > 0 ? per / floor : 0);
    std::printf("  %-32s %12.2f\n", "server cores busy", server_cpu / elapsed);
    std::printf("  %-32s %12.2f\n", "load generator cores busy", client_cpu / elapsed);
    std::printf("  %-32s %9llu/%llu\n", "confirmations verified (sample)",
                static_cast<unsigned long long>(st.verified.load()),
                static_cast<unsigned long long>(st.verified.load()) +
                    static_cast<unsigned long long>(st.bad.load()));
    if (s.json_out) {
      std::ofstream(*s.json_out) << json::serialize(json::object{
                                        {"mode", "throughput"},
                                        {"connections", s.connections},
                                        {"inflight", s.inflight},
                                        {"seconds", elapsed},
                                        {"rate", n / elapsed},
                                        {"accepted", st.confirmed.load()},
                                        {"rejected", st.rejected.load()},
                                        {"server_cpu_us_per_prediction", per * 1e6},
                                        {"crypto_floor_us", floor * 1e6},
                                        {"crypto_floor_ratio", floor > 0 ? per / floor : 0},
                                        {"server_cores", server_cpu / elapsed},
                                        {"client_cores", client_cpu / elapsed},
                                        {"verified_sample", st.verified.load()},
                                        {"bad_sample", st.bad.load()}})
                                 << '\n';
    }
  });
  ioc.run();
  driver.join();
  if (s.mode == "latency") print_latency(s, st);
  std::error_code ec;
  fs::remove_all(dir, ec);
  return st.bad == 0 && st.confirmed > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) try {
  po::options_description flags("Load");
  flags.add_options()(
      "mode", po::value<std::string>()->default_value("throughput"),
      "throughput: C connections each keeping W predictions in flight; latency: a fixed offered "
      "rate, open loop, latency percentiles from the intended send time")(
      "rate", po::value<double>()->default_value(2000), "latency mode: predictions/s offered")(
      "connections", po::value<int>()->default_value(50), "C: miner connections")(
      "inflight", po::value<int>()->default_value(8), "W: predictions in flight per connection")(
      "duration", po::value<double>()->default_value(10), "seconds measured")(
      "quick", po::bool_switch(), "a short smoke run of each mode (5 connections, a few seconds)")(
      "verify_sample", po::value<double>()->default_value(0.01),
      "share of confirmations whose signature the load generator verifies (0 to 1)")(
      "validator_bin", po::value<std::string>(),
      "the bettensor-validator to start (default: next to this program, then PATH)")(
      "json", po::value<std::string>(), "also write the results as JSON to this file");
  const auto vm_opt = cli::parse(
      argc, argv,
      {"bettensor-bench",
       "Load generator for bettensor-validator: generates miner keys, a metagraph and games,\n"
       "starts the validator as a child process on loopback, drives it with signed predictions\n"
       "over WebSocket, and prints a table with the method."},
      flags);
  if (!vm_opt) return 0;
  const auto& vm = *vm_opt;
  settings s;
  s.mode = vm["mode"].as<std::string>();
  if (s.mode != "throughput" && s.mode != "latency")
    throw cli::usage_error("--mode must be throughput or latency (got '" + s.mode + "')");
  s.rate = vm["rate"].as<double>();
  if (!(s.rate > 0 && s.rate <= 1e6)) throw cli::usage_error("--rate must be between 0 and 1e6");
  s.connections = vm["connections"].as<int>();
  s.inflight = vm["inflight"].as<int>();
  s.duration = cli::positive_seconds(vm, "duration");
  s.verify_sample = vm["verify_sample"].as<double>();
  if (s.connections < 1 || s.connections > 20000)
    throw cli::usage_error("--connections must be between 1 and 20000");
  if (s.inflight < 1 || s.inflight > 1000)
    throw cli::usage_error("--inflight must be between 1 and 1000");
  if (!(s.verify_sample >= 0 && s.verify_sample <= 1))
    throw cli::usage_error("--verify_sample must be between 0 and 1");
  const bool quick = vm["quick"].as<bool>();
  if (quick) {  // both modes, briefly, every confirmation verified
    s.connections = 5;
    s.duration = 2;
    s.verify_sample = 1;
    s.mode = "throughput";
  }
  if (vm.count("json") != 0) s.json_out = vm["json"].as<std::string>();
  if (vm.count("validator_bin") != 0) {
    s.validator_bin = vm["validator_bin"].as<std::string>();
  } else {
    const auto self = fs::read_symlink("/proc/self/exe");
    const auto sibling = self.parent_path().parent_path() / "validator" / "bettensor-validator";
    const auto installed = self.parent_path() / "bettensor-validator";
    s.validator_bin = fs::exists(sibling) ? sibling : installed;
  }
  if (!fs::exists(s.validator_bin))
    throw cli::usage_error("--validator_bin: " + s.validator_bin.string() + " does not exist");
  int rc = run(s);
  if (quick) {
    s.mode = "latency";
    s.rate = 500;
    s.duration = 1;
    rc = std::max(rc, run(s));
  }
  return rc;
} catch (const cli::usage_error& e) {
  std::cerr << "bettensor-bench: " << e.what() << " (see --help)\n";
  return cli::usage_exit_code;
} catch (const std::exception& e) {
  std::cerr << "bettensor-bench: " << e.what() << '\n';
  return 1;
}
