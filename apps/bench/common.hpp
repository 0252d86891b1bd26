// Shared pieces of bettensor-bench: settings, the world a run sets up (keys, metagraph, games,
// the validator child process or a --url target), /proc readers and table printing.
#pragma once

#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bettensor/crypto/wallet.hpp"
#include "bettensor/protocol/messages.hpp"
#include "bettensor/protocol/replay_guard.hpp"
#include "bettensor/test/child_process.hpp"

namespace bettensor::bench {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
using steady = std::chrono::steady_clock;
using ws_stream = beast::websocket::stream<beast::tcp_stream>;

// Where the validator listens (the address dialled, the Host header sent) and how to talk to it.
struct target {
  net::ip::tcp::endpoint endpoint;
  std::string host;      // "host:port"
  bool deflate = false;  // miners offer permessage-deflate (--compression)
};

struct settings {
  std::string mode = "throughput";
  double rate = 2000;  // latency mode: predictions per second offered, in total
  int connections = 50;
  int inflight = 8;
  double duration = 10;
  double verify_sample = 0.01;
  int idle = 0;                // latency mode: extra authenticated connections that only listen
  double broadcast_every = 0;  // latency mode: seconds between 50-game broadcasts (0: none)
  std::vector<int> steps;      // connections / broadcast modes: connection counts
  int games = 50;              // broadcast mode: games per update
  int rounds = 5;              // broadcast mode: updates per step
  double hold = 0;             // connections mode: seconds held at each step
  int heartbeat_interval = 0;  // validator's --websocket.heartbeat_interval (0: mode default)
  int threads = 0;             // validator's --threads (0: its default)
  fs::path validator_bin;
  std::optional<fs::path> db_dir;     // where the validator's SQLite file goes (default: temp dir)
  std::optional<std::string> db_url;  // the validator's --db.url instead (a --backends run)
  std::optional<fs::path> json_out;
  std::optional<target> url;        // drive this validator instead of starting one
  std::optional<fs::path> workdir;  // the keys, metagraph, games and token for --url
  pid_t server_pid = 0;             // with --url: the validator's pid, for CPU and memory (0: n/a)
  bool compression = false;         // permessage-deflate offered (and enabled in our validator)
};

// CPU seconds (user + system) of a process, from /proc/<pid>/stat.
double cpu_seconds(pid_t pid);
// Resident set size of a process in bytes, from /proc/<pid>/status.
double rss_bytes(pid_t pid);
// CPU seconds of this process.
double own_cpu_seconds();
// `value` printed with `decimals`, or "n/a" for NaN (the server's figures when its pid is not
// known: NaN carries through the arithmetic).
std::string figure(double value, int decimals);
// `value` as JSON, or null for NaN.
boost::json::value json_figure(double value);

// Measured in this process on a prediction-sized message: one sr25519 sign plus one verify
// (the floor), and libsodium's Ed25519 verify (the yardstick), in seconds.
struct crypto_costs {
  double floor = 0;
  double yardstick = 0;
};
crypto_costs measure_crypto();

// A game with this id, starting tomorrow; `odds_shift` makes otherwise equal sets differ.
protocol::team_game make_game(const std::string& id, double odds_shift = 0);
// A signed prediction envelope on `g`, numbered n: its prediction_id is "<miner>-<game id>-n".
std::string prediction_frame(const crypto::hotkey& miner, std::uint64_t n,
                             const protocol::team_game& g);

// Percentile of sorted values (p in 0..100).
double percentile(const std::vector<double>& sorted, double p);
// b - a in seconds.
double seconds_between(steady::time_point a, steady::time_point b);
// One row of a two-column table.
void row(const char* name, const std::string& value);
// The p50, p90, p99, p99.9 and max rows of sorted durations in seconds, printed in ms.
void percentile_rows(const std::vector<double>& sorted_seconds);
// The same percentiles as the JSON fields p50_ms, p90_ms, p99_ms, p999_ms and max_ms of `o`.
void add_percentiles(boost::json::object& o, const std::vector<double>& sorted_seconds);

// The validator's identity, to check the signatures of its confirmations.
struct validator_key {
  std::string ss58;
  crypto::public_key key{};
};

// The files a validator under test reads, in a work directory: the validator's wallet (unless
// its hotkey is given), the miners' keys, a metagraph listing them, a games file and an admin
// token. Returns the bettensor-validator arguments that point at them.
std::vector<std::string> prepare_workdir(const fs::path& dir, int miner_count,
                                         const std::optional<std::string>& validator_ss58);
// Flags for a validator under load: limits high enough for `miner_count` miners sending as fast
// as they can, heartbeats every `heartbeat_interval` seconds.
std::vector<std::string> load_flags(int miner_count, int heartbeat_interval);
// The validator flags for heartbeats every `interval` seconds and a 3 × interval silence limit.
std::vector<std::string> heartbeat_flags(int interval);

// Everything a run needs: `miner_count` miner keys in the validator's metagraph, a game they
// predict on, the admin token, and the validator: started on a free port from a temp dir, or,
// with --url, the running one that --workdir was prepared for.
class world {
 public:
  world(const settings& s, int miner_count, std::vector<std::string> extra_validator_args = {});
  world(const world&) = delete;
  world& operator=(const world&) = delete;
  ~world();

  [[nodiscard]] const target& where() const { return where_; }
  [[nodiscard]] const validator_key& validator() const { return validator_; }
  [[nodiscard]] const std::vector<crypto::hotkey>& miners() const { return miners_; }
  [[nodiscard]] const protocol::team_game& game() const { return game_; }
  [[nodiscard]] const std::string& admin_token() const { return token_; }
  // The server's CPU seconds and resident memory; NaN when its pid is not known.
  [[nodiscard]] double server_cpu_seconds() const;
  [[nodiscard]] double server_rss_bytes() const;

 private:
  void start_validator(const settings& s, int miner_count, std::vector<std::string> extra);
  void load_workdir(const settings& s, int miner_count);

  fs::path dir_;
  bool owned_dir_ = false;
  std::optional<fs::path> db_dir_;
  validator_key validator_;
  std::vector<crypto::hotkey> miners_;
  protocol::team_game game_;
  std::string token_;
  target where_;
  pid_t pid_ = 0;
  std::optional<test::child_process> server_;  // the validator under test, when started here
};

// Confirmation counters of the modes that send predictions.
struct tally {
  std::atomic<std::uint64_t> confirmed{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> verified{0};  // sampled confirmations whose signature held
  std::atomic<std::uint64_t> bad{0};       // sampled confirmations whose signature did not
  std::atomic<bool> measuring{false};
  std::atomic<bool> done{false};
};
// Checks a confirmation end to end (sender, time, nonce, signature) and counts the outcome.
void verify_confirmation(std::string_view frame, const validator_key& validator,
                         protocol::replay_guard& nonces, tally& t);
// "verified/sampled" for the tables.
std::string sample_text(const tally& t);

// Whether a frame from the validator is a heartbeat (envelope keys are sorted, so the type ends
// the frame), and the signed answer a miner sends to one.
bool is_heartbeat(std::string_view frame);
std::string heartbeat_response(const crypto::hotkey& key);

// Opens a WebSocket to the validator, authenticates as `key`, and reads until the welcome and
// the current games have arrived, answering a heartbeat that comes between them. TCP_NODELAY
// is set, as a miner does.
net::awaitable<void> connect_miner(ws_stream& ws, const target& to, const crypto::hotkey& key);

// POST /games with the admin token; returns the HTTP status. Blocking, on its own socket.
int post_games(const target& to, const std::string& token, const std::string& body);
// A JSON array for POST /games: `count - 1` games whose ids start with "r<round>-", then
// `kept` (the game the predictions are about, so they stay valid across updates).
std::string games_body(int round, int count, const protocol::team_game& kept);

// GET `path` from the validator; the body, or empty on a non-200 answer. Blocking.
std::string http_get(const target& to, const std::string& path);
// From a Prometheus text exposition, the value of the series named exactly `name` (0 if absent).
double metric_value(const std::string& exposition, const std::string& name);

// Writes `result` to --json when given.
void write_json(const settings& s, const boost::json::object& result);

// The modes; each returns the process exit code.
int run_stream(const settings& s);       // throughput and latency
int run_connections(const settings& s);  // idle connections, memory, heartbeats
int run_broadcast(const settings& s);    // time for a games change to reach every miner
int run_http(const settings& s);         // predictions through POST /predictions
int run_commit(const settings& s);       // bare SQLite commits: the disk's floor for latency

}  // namespace bettensor::bench
