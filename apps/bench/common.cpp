#include "common.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/signing.hpp"

extern char** environ;

namespace bettensor::bench {

namespace json = boost::json;
namespace http = beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

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

double rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::stod(line.substr(6)) * 1024;  // kB
  }
  return 0;
}

double own_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  const auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

double crypto_floor_seconds() {
  const auto kp = crypto::keypair::generate();
  const std::string msg =
      prediction_frame({kp, crypto::ss58_encode(kp.public_key_bytes())}, 0, make_game("floor"));
  const auto bytes = crypto::as_bytes(msg);
  constexpr int n = 400;
  const auto t0 = steady::now();
  crypto::signature sig{};
  for (int i = 0; i < n; ++i) sig = kp.sign(bytes);
  bool ok = true;
  for (int i = 0; i < n; ++i) ok &= crypto::verify(bytes, sig, kp.public_key_bytes());
  const auto t1 = steady::now();
  if (!ok) throw std::runtime_error("self-check of sr25519 failed");
  return std::chrono::duration<double>(t1 - t0).count() / n;
}

protocol::team_game make_game(const std::string& id, double odds_shift) {
  protocol::team_game g;
  g.game_id = id;
  g.team_a = "Lions";
  g.team_b = "Tigers";
  g.sport = "football";
  g.league = "NFL";
  g.create_date = g.last_update_date = protocol::format_timestamp(protocol::now_utc());
  g.event_start_date = protocol::format_timestamp(protocol::now_utc() + 24h);
  g.team_a_odds = 1.8 + odds_shift;
  g.team_b_odds = 2.1;
  g.tie_odds = 3.25;
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
  p.tie_odds = g.tie_odds;
  p.wager = 1;
  p.model_name = "bench";
  p.confidence_score = 0.5;
  return protocol::serialize(
      protocol::sign_envelope(miner, protocol::message_type::prediction, to_json(p)));
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

validator_process::validator_process(const fs::path& bin, std::vector<std::string> args) {
  args.insert(args.begin(), bin.string());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
    throw std::runtime_error("cannot start " + bin.string());
}

validator_process::~validator_process() {
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
}

namespace {
std::uint16_t free_port() {
  net::io_context ioc;
  tcp::acceptor a(ioc, {net::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}
}  // namespace

world::world(const settings& s, int miner_count, std::vector<std::string> extra_validator_args)
    : dir_(fs::temp_directory_path() / ("bettensor-bench-" + std::to_string(::getpid()))),
      game_(make_game("bench-1")),
      token_(protocol::make_nonce()) {
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  const crypto::wallet_location where{dir_ / "wallets", "validator", "default"};
  auto v = crypto::create_hotkey(where.hotkey_file(), true);
  if (!v) throw std::runtime_error(v.error().message);
  validator_ = std::move(*v);
  json::array neurons{json::object{{"uid", 0},
                                   {"hotkey", validator_->ss58},
                                   {"validator_permit", true},
                                   {"stake", 1.0},
                                   {"axon", {{"ip", "127.0.0.1"}, {"port", 0}}}}};
  miners_.reserve(static_cast<std::size_t>(miner_count));
  for (int i = 0; i < miner_count; ++i) {
    const auto kp = crypto::keypair::generate();
    miners_.push_back({kp, crypto::ss58_encode(kp.public_key_bytes())});
    neurons.push_back(json::object{{"uid", i + 1},
                                   {"hotkey", miners_.back().ss58},
                                   {"validator_permit", false},
                                   {"stake", 1.0},
                                   {"axon", {{"ip", "0.0.0.0"}, {"port", 0}}}});
  }
  std::ofstream(dir_ / "metagraph.json")
      << json::serialize(json::object{{"netuid", 30}, {"block", 1}, {"neurons", neurons}});
  std::ofstream(dir_ / "games.json")
      << protocol::to_canonical(json::array{protocol::to_json(game_)});
  std::ofstream(dir_ / "admin.token") << token_ << '\n';
  if (s.db_dir) {
    db_dir_ = *s.db_dir / dir_.filename();
    fs::create_directories(*db_dir_);
  }

  port_ = free_port();
  std::vector<std::string> args{
      "--wallet.path=" + (dir_ / "wallets").string(),
      "--wallet.name=validator",
      "--metagraph.file=" + (dir_ / "metagraph.json").string(),
      "--games.file=" + (dir_ / "games.json").string(),
      "--admin.token_file=" + (dir_ / "admin.token").string(),
      "--db.path=" + ((s.db_dir ? *s.db_dir / dir_.filename() : dir_) / "bench.db").string(),
      "--websocket.address=127.0.0.1",
      "--websocket.port=" + std::to_string(port_),
      "--websocket.max_connections=" + std::to_string(miner_count + 64),
      "--websocket.rate_limit=1000000",
      "--websocket.rate_burst=1000000",
      "--predictions.daily_wager_limit=1e15",
      "--log.level=warn"};
  if (s.threads > 0) args.push_back("--threads=" + std::to_string(s.threads));
  for (auto& a : extra_validator_args) args.push_back(std::move(a));
  server_.emplace(s.validator_bin, std::move(args));
  for (int i = 0;; ++i) {  // until it listens
    net::io_context probe;
    tcp::socket sock(probe);
    beast::error_code ec;
    sock.connect({net::ip::make_address("127.0.0.1"), port_}, ec);
    if (!ec) break;
    int status = 0;
    if (::waitpid(server_->pid(), &status, WNOHANG) == server_->pid())
      throw std::runtime_error("the validator exited at start (see its message above)");
    if (i > 1000) throw std::runtime_error("the validator did not start listening");
    std::this_thread::sleep_for(10ms);
  }
}

world::~world() {
  server_.reset();
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (db_dir_) fs::remove_all(*db_dir_, ec);
}

net::awaitable<void> connect_miner(ws_stream& ws, std::uint16_t port, const crypto::hotkey& key) {
  auto& sock = beast::get_lowest_layer(ws);
  co_await sock.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                              net::use_awaitable);
  sock.socket().set_option(tcp::no_delay(true));
  co_await ws.async_handshake("127.0.0.1", "/ws", net::use_awaitable);
  co_await ws.async_write(net::buffer(protocol::serialize(protocol::make_auth_message(key))),
                          net::use_awaitable);
  beast::flat_buffer buf;
  for (;;) {  // welcome, then the current games
    buf.clear();
    co_await ws.async_read(buf, net::use_awaitable);
    const std::string_view text(static_cast<const char*>(buf.cdata().data()), buf.size());
    if (text.find("\"game_update\"") != std::string_view::npos) break;
    if (text.find("\"welcome\"") == std::string_view::npos)
      throw std::runtime_error("refused: " + std::string(text.substr(0, 200)));
  }
}

int post_games(std::uint16_t port, const std::string& token, const std::string& body) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  stream.socket().set_option(tcp::no_delay(true));
  http::request<http::string_body> req{http::verb::post, "/games", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, "Bearer " + token);
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  return static_cast<int>(res.result_int());
}

std::string http_get(std::uint16_t port, const std::string& path) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req{http::verb::get, path, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  return res.result() == http::status::ok ? res.body() : std::string();
}

double metric_value(const std::string& exposition, const std::string& name) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > name.size() && line.starts_with(name) && line[name.size()] == ' ')
      return std::stod(line.substr(name.size() + 1));
  }
  return 0;
}

std::string games_body(int round, int count, const protocol::team_game& kept) {
  json::array games;
  for (int i = 0; i + 1 < count; ++i) {
    games.push_back(protocol::to_json(
        make_game("r" + std::to_string(round) + "-g" + std::to_string(i), i * 0.01)));
  }
  games.push_back(protocol::to_json(kept));
  return protocol::to_canonical(games);
}

void write_json(const settings& s, const json::object& result) {
  if (s.json_out) std::ofstream(*s.json_out) << json::serialize(result) << '\n';
}

}  // namespace bettensor::bench
