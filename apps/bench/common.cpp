#include "common.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <sodium.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/signing.hpp"
#include "bettensor/test/metagraph_file.hpp"

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

std::string figure(double value, int decimals) {
  if (std::isnan(value)) return "n/a";
  std::array<char, 64> text{};
  std::snprintf(text.data(), text.size(), "%.*f", decimals, value);
  return text.data();
}

json::value json_figure(double value) {
  return std::isnan(value) ? json::value(nullptr) : json::value(value);
}

crypto_costs measure_crypto() {
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

  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> pk{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> sk{};
  std::array<unsigned char, crypto_sign_BYTES> ed_sig{};
  crypto_sign_keypair(pk.data(), sk.data());
  crypto_sign_detached(ed_sig.data(), nullptr, bytes.data(), bytes.size(), sk.data());
  const auto t2 = steady::now();
  for (int i = 0; i < n; ++i)
    ok &= crypto_sign_verify_detached(ed_sig.data(), bytes.data(), bytes.size(), pk.data()) == 0;
  const auto t3 = steady::now();
  if (!ok) throw std::runtime_error("self-check of Ed25519 failed");
  return {std::chrono::duration<double>(t1 - t0).count() / n,
          std::chrono::duration<double>(t3 - t2).count() / n};
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
  // Each run predicts on a game of its own, so a validator that outlives the run (--url) never
  // sees an id twice (it would confirm a repeat again without storing it).
  p.prediction_id = miner.ss58.substr(0, 12) + "-" + g.game_id + "-" + std::to_string(n);
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

void row(const char* name, const std::string& value) {
  std::printf("  %-32s %12s\n", name, value.c_str());
}

namespace {

struct percentile_name {
  const char* row;
  const char* field;
  double p;
};
constexpr std::array<percentile_name, 5> percentile_names{{{"p50 ms", "p50_ms", 50.0},
                                                           {"p90 ms", "p90_ms", 90.0},
                                                           {"p99 ms", "p99_ms", 99.0},
                                                           {"p99.9 ms", "p999_ms", 99.9},
                                                           {"max ms", "max_ms", 100.0}}};

}  // namespace

double seconds_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void percentile_rows(const std::vector<double>& sorted_seconds) {
  for (const auto& n : percentile_names)
    row(n.row, figure(percentile(sorted_seconds, n.p) * 1e3, 3));
}

void add_percentiles(boost::json::object& o, const std::vector<double>& sorted_seconds) {
  for (const auto& n : percentile_names) o[n.field] = percentile(sorted_seconds, n.p) * 1e3;
}

namespace {

std::uint16_t free_port() {
  net::io_context ioc;
  tcp::acceptor a(ioc, {net::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// A file only its owner may read (keys, the admin token).
void write_private(const fs::path& file, const std::string& text) {
  std::ofstream(file) << text;
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
}

constexpr const char* keys_file = "bench-keys.json";

}  // namespace

std::vector<std::string> prepare_workdir(const fs::path& dir, int miner_count,
                                         const std::optional<std::string>& validator_ss58) {
  fs::create_directories(dir);
  std::vector<std::string> args;
  std::string validator = validator_ss58.value_or("");
  if (validator.empty()) {
    const crypto::wallet_location where{dir / "wallets", "validator", "default"};
    auto v = crypto::create_hotkey(where.hotkey_file(), true);
    if (!v) throw std::runtime_error(v.error().message);
    validator = v->ss58;
    args.push_back("--wallet.path=" + (dir / "wallets").string());
    args.push_back("--wallet.name=validator");
  } else if (!crypto::ss58_decode(validator)) {
    throw std::runtime_error("--validator_hotkey: '" + validator + "' is not an SS58 address");
  }
  std::vector<test::neuron> neurons{{0, validator, true, 1.0, "127.0.0.1", 0}};
  json::array keys;
  for (int i = 0; i < miner_count; ++i) {
    crypto::mini_secret seed{};
    const auto kp = crypto::keypair::generate(&seed);
    const auto ss58 = crypto::ss58_encode(kp.public_key_bytes());
    neurons.push_back(test::miner_neuron(i + 1, ss58));
    keys.push_back(json::object{{"ss58", ss58}, {"mini_secret", crypto::to_hex(seed)}});
    sodium_memzero(seed.data(), seed.size());
  }
  write_private(dir / keys_file,
                json::serialize(json::object{{"validator", validator}, {"miners", keys}}));
  test::write_metagraph(dir / "metagraph.json", neurons);
  std::ofstream(dir / "games.json")
      << protocol::to_canonical(json::array{protocol::to_json(make_game("bench-1"))});
  write_private(dir / "admin.token", protocol::make_nonce() + "\n");
  args.push_back("--metagraph.file=" + (dir / "metagraph.json").string());
  args.push_back("--games.file=" + (dir / "games.json").string());
  args.push_back("--admin.token_file=" + (dir / "admin.token").string());
  return args;
}

std::vector<std::string> heartbeat_flags(int interval) {
  return {"--websocket.heartbeat_interval=" + std::to_string(interval),
          "--websocket.connection_timeout=" + std::to_string(3 * interval)};
}

std::vector<std::string> load_flags(int miner_count, int heartbeat_interval) {
  std::vector<std::string> args{"--websocket.max_connections=" + std::to_string(miner_count + 64),
                                "--websocket.rate_limit=1000000", "--websocket.rate_burst=1000000",
                                "--predictions.daily_wager_limit=1e15"};
  if (heartbeat_interval > 0) {
    for (auto& f : heartbeat_flags(heartbeat_interval)) args.push_back(std::move(f));
  }
  return args;
}

world::world(const settings& s, int miner_count, std::vector<std::string> extra_validator_args)
    : game_(make_game("bench-" + protocol::make_nonce().substr(0, 8))) {
  if (s.url) {
    load_workdir(s, miner_count);
  } else {
    start_validator(s, miner_count, std::move(extra_validator_args));
  }
}

void world::start_validator(const settings& s, int miner_count, std::vector<std::string> extra) {
  dir_ = fs::temp_directory_path() / ("bettensor-bench-" + std::to_string(::getpid()));
  owned_dir_ = true;
  fs::remove_all(dir_);
  auto args = prepare_workdir(dir_, miner_count, std::nullopt);
  if (s.db_dir) {
    db_dir_ = *s.db_dir / dir_.filename();
    fs::create_directories(*db_dir_);
  }
  const auto port = free_port();
  where_ = {tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
            "127.0.0.1:" + std::to_string(port)};
  for (auto& a : load_flags(miner_count, 0)) args.push_back(std::move(a));
  if (s.db_url) {
    args.push_back("--db.url=" + *s.db_url);
  } else {
    args.push_back("--db.path=" + (db_dir_.value_or(dir_) / "bench.db").string());
  }
  args.push_back("--websocket.address=127.0.0.1");
  args.push_back("--websocket.port=" + std::to_string(port));
  args.push_back("--log.level=warn");
  if (s.compression) args.push_back("--websocket.compression=true");
  if (s.threads > 0) args.push_back("--threads=" + std::to_string(s.threads));
  for (auto& a : extra) args.push_back(std::move(a));
  args.insert(args.begin(), s.validator_bin.string());
  // Its log on the terminal; a clean stop (SIGTERM) at the end of the run.
  server_.emplace(std::move(args), test::child_process::options{false, SIGTERM});
  pid_ = server_->pid();
  for (int i = 0;; ++i) {  // until it listens
    net::io_context probe;
    tcp::socket sock(probe);
    beast::error_code ec;
    sock.connect(where_.endpoint, ec);
    if (!ec) break;
    if (!server_->running())
      throw std::runtime_error("the validator exited at start (see its message above)");
    if (i > 1000) throw std::runtime_error("the validator did not start listening");
    std::this_thread::sleep_for(10ms);
  }
  load_workdir(s, miner_count);
}

void world::load_workdir(const settings& s, int miner_count) {
  if (!owned_dir_) {
    dir_ = *s.workdir;
    where_ = *s.url;
    pid_ = s.server_pid;
  }
  where_.deflate = s.compression;
  const auto file = dir_ / keys_file;
  std::ifstream in(file);
  if (!in)
    throw std::runtime_error(file.string() +
                             " is missing: prepare the directory first with --prepare");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  boost::system::error_code ec;
  const auto doc = json::parse(text, ec);
  const auto* top = doc.if_object();
  const auto* list =
      top != nullptr && top->contains("miners") ? top->at("miners").if_array() : nullptr;
  const auto* v =
      top != nullptr && top->contains("validator") ? top->at("validator").if_string() : nullptr;
  if (ec || list == nullptr || v == nullptr)
    throw std::runtime_error(file.string() + " is not a key file written by --prepare");
  const auto decoded = crypto::ss58_decode(*v);
  if (!decoded) throw std::runtime_error(file.string() + ": bad validator address");
  validator_ = {std::string(*v), decoded->key};
  if (list->size() < static_cast<std::size_t>(miner_count))
    throw std::runtime_error(file.string() + " holds " + std::to_string(list->size()) +
                             " miners; this run needs " + std::to_string(miner_count) +
                             " (prepare again with --miners)");
  miners_.reserve(static_cast<std::size_t>(miner_count));
  for (std::size_t i = 0; i < static_cast<std::size_t>(miner_count); ++i) {
    const auto* m = (*list)[i].if_object();
    const auto* hex =
        m != nullptr && m->contains("mini_secret") ? m->at("mini_secret").if_string() : nullptr;
    crypto::mini_secret seed{};
    if (hex == nullptr || !crypto::from_hex_exact(*hex, seed))
      throw std::runtime_error(file.string() + ": miner " + std::to_string(i) + " is unreadable");
    const auto kp = crypto::keypair::from_mini_secret(seed);
    sodium_memzero(seed.data(), seed.size());
    miners_.push_back({kp, crypto::ss58_encode(kp.public_key_bytes())});
  }
  std::ifstream token(dir_ / "admin.token");
  std::getline(token, token_);
  // The game this run's predictions are about, starting tomorrow (a prepared directory may be
  // days old); this also checks the admin token before any connection is opened.
  if (const int status =
          post_games(where_, token_, protocol::to_canonical(json::array{protocol::to_json(game_)}));
      status != 200)
    throw std::runtime_error(
        "POST /games answered " + std::to_string(status) +
        ": is the validator using --admin.token_file=" + (dir_ / "admin.token").string() + "?");
}

world::~world() {
  server_.reset();
  std::error_code ec;
  if (owned_dir_) fs::remove_all(dir_, ec);
  if (db_dir_) fs::remove_all(*db_dir_, ec);
}

double world::server_cpu_seconds() const {
  return pid_ > 0 ? cpu_seconds(pid_) : std::numeric_limits<double>::quiet_NaN();
}

double world::server_rss_bytes() const {
  return pid_ > 0 ? rss_bytes(pid_) : std::numeric_limits<double>::quiet_NaN();
}

bool is_heartbeat(std::string_view frame) {
  return frame.ends_with("\"type\": \"heartbeat\"}");
}

std::string heartbeat_response(const crypto::hotkey& key) {
  return protocol::serialize(protocol::sign_envelope(
      key, protocol::message_type::heartbeat_response, boost::json::object()));
}

net::awaitable<void> connect_miner(ws_stream& ws, const target& to, const crypto::hotkey& key) {
  auto& sock = beast::get_lowest_layer(ws);
  co_await sock.async_connect(to.endpoint, net::use_awaitable);
  sock.socket().set_option(tcp::no_delay(true));
  if (to.deflate) {
    beast::websocket::permessage_deflate pmd;
    pmd.client_enable = true;
    ws.set_option(pmd);
  }
  co_await ws.async_handshake(to.host, "/ws", net::use_awaitable);
  co_await ws.async_write(net::buffer(protocol::serialize(protocol::make_auth_message(key))),
                          net::use_awaitable);
  beast::flat_buffer buf;
  for (;;) {  // welcome, then the current games; a heartbeat may come between them
    buf.clear();
    co_await ws.async_read(buf, net::use_awaitable);
    const std::string_view text(static_cast<const char*>(buf.cdata().data()), buf.size());
    if (text.find("\"game_update\"") != std::string_view::npos) break;
    if (is_heartbeat(text)) {
      co_await ws.async_write(net::buffer(heartbeat_response(key)), net::use_awaitable);
      continue;
    }
    if (text.find("\"welcome\"") == std::string_view::npos)
      throw std::runtime_error("refused: " + std::string(text.substr(0, 200)));
  }
}

void verify_confirmation(std::string_view frame, const validator_key& validator,
                         protocol::replay_guard& nonces, tally& t) {
  const protocol::frame_expectations expect{validator.ss58, &validator.key, protocol::now_utc(),
                                            300s, &nonces};
  (protocol::open_envelope(frame, expect) ? t.verified : t.bad)++;
}

std::string sample_text(const tally& t) {
  return std::to_string(t.verified.load()) + "/" + std::to_string(t.verified + t.bad);
}

int post_games(const target& to, const std::string& token, const std::string& body) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(to.endpoint);
  stream.socket().set_option(tcp::no_delay(true));
  http::request<http::string_body> req{http::verb::post, "/games", 11};
  req.set(http::field::host, to.host);
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

std::string http_get(const target& to, const std::string& path) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(to.endpoint);
  http::request<http::empty_body> req{http::verb::get, path, 11};
  req.set(http::field::host, to.host);
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
  if (!s.json_out) return;
  json::object r = result;
  r["compression"] = s.compression;
  std::ofstream(*s.json_out) << json::serialize(r) << '\n';
}

}  // namespace bettensor::bench
