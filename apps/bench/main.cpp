// bettensor-bench: a load generator speaking the real wire format with real keys (see --help).
// It generates miner keys, a metagraph and games, starts bettensor-validator as a child process
// (so the server's CPU time and memory can be read from /proc/<pid>), and measures it; or it
// prepares those files for a validator started by hand and drives that one with --url.
#include <sqlite3.h>
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <tuple>

#include "bettensor/cli/options.hpp"
#include "bettensor/storage/sqlite_memory.hpp"
#include "bettensor/test/pg_cluster.hpp"
#include "common.hpp"

namespace po = boost::program_options;
namespace json = boost::json;
using namespace bettensor;
using namespace bettensor::bench;

namespace {

std::vector<int> parse_steps(const std::string& text) {
  std::vector<int> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    int n = 0;
    try {
      n = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || n < 1 || n > 60000)
      throw cli::usage_error("--steps must be comma-separated counts from 1 to 60000 (got '" +
                             text + "')");
    out.push_back(n);
  }
  if (out.empty()) throw cli::usage_error("--steps must name at least one count");
  return out;
}

// Each connection needs a descriptor here and one in the validator (which inherits the limit).
void raise_descriptor_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
}

// ws://HOST:PORT[/ws], resolved once.
target parse_url(const std::string& url) {
  constexpr std::string_view scheme = "ws://";
  const auto bad = [&url](const std::string& why) {
    return cli::usage_error("--url must look like ws://HOST:PORT (" + why + ": '" + url + "')");
  };
  if (!url.starts_with(scheme)) {
    throw bad(url.starts_with("wss://") ? "wss:// is not supported by the load generator"
                                        : "no ws:// scheme");
  }
  std::string rest = url.substr(scheme.size());
  if (const auto slash = rest.find('/'); slash != std::string::npos) {
    if (rest.substr(slash) != "/ws" && rest.substr(slash) != "/") throw bad("the path must be /ws");
    rest.resize(slash);
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) throw bad("no host and port");
  std::string host = rest.substr(0, colon);
  const std::string port = rest.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
      port.size() > 5 || std::stoi(port) < 1 || std::stoi(port) > 65535)
    throw bad("bad port");
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  const auto found = resolver.resolve(host, port, ec);
  if (ec || found.empty())
    throw cli::usage_error("--url: cannot resolve " + host + ": " + ec.message());
  return {found.begin()->endpoint(), rest};
}

// The arguments of a command line, quoted for a POSIX shell where needed.
std::string shell_line(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    if (w.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@") ==
        std::string::npos) {
      out += w;
      continue;
    }
    out += '\'';
    for (const char c : w) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

// --prepare: the files, validator.args (one argument per line) and the command to start it.
int prepare(const fs::path& dir, int miners, const std::optional<std::string>& validator_hotkey,
            int heartbeat_interval) {
  if (fs::exists(dir / "validator.args"))
    throw cli::usage_error("--workdir " + dir.string() +
                           " is already prepared (remove it to make new keys)");
  auto args = prepare_workdir(dir, miners, validator_hotkey);
  args.push_back("--db.path=" + (dir / "bench.db").string());
  for (auto& a : load_flags(miners, heartbeat_interval)) args.push_back(std::move(a));
  std::ofstream out(dir / "validator.args");
  for (const auto& a : args) out << a << '\n';
  args.insert(args.begin(), "bettensor-validator");
  std::cout << "Prepared " << dir.string() << " with " << miners << " miner keys"
            << (validator_hotkey ? " and validator " + *validator_hotkey : std::string())
            << ". Start the validator with these files (and your own --websocket.address/port"
            << (validator_hotkey ? ", wallet" : "") << "):\n\n  " << shell_line(args)
            << "\n\nthen run, e.g.:\n\n  bettensor-bench --url ws://127.0.0.1:10401 --workdir "
            << shell_line({dir.string()}) << " --mode throughput --server_pid <its pid>\n";
  return 0;
}

int run_mode(const settings& s);

// The Python validator's database as the neuron creates it (the reference's DDL).
void make_neuron_database(const fs::path& file) {
  std::ifstream in(BETTENSOR_BENCH_NEURON_DDL);
  std::ostringstream ddl;
  ddl << in.rdbuf();
  if (ddl.str().empty())
    throw std::runtime_error(std::string("cannot read ") + BETTENSOR_BENCH_NEURON_DDL);
  sqlite3* db = nullptr;
  char* error = nullptr;
  const bool ok = sqlite3_open(file.c_str(), &db) == SQLITE_OK &&
                  sqlite3_exec(db, ddl.str().c_str(), nullptr, nullptr, &error) == SQLITE_OK;
  const std::string why = error != nullptr ? error : (db != nullptr ? sqlite3_errmsg(db) : "");
  sqlite3_free(error);
  sqlite3_close(db);
  if (!ok) throw std::runtime_error("cannot create " + file.string() + ": " + why);
}

// --backends: the throughput mode once per storage backend, each on a fresh database, then the
// figures side by side. The Python validator's database is made from the reference's DDL; the
// PostgreSQL one is a throwaway cluster on a Unix socket (initdb + pg_ctl, fsync on).
int run_backends(const settings& s, const std::vector<std::string>& backends) {
  const fs::path dir = s.db_dir.value_or(fs::temp_directory_path()) /
                       ("bettensor-bench-backends-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::optional<test::pg_cluster> pg;
  struct result {
    std::string backend;
    json::object figures;
  };
  std::vector<result> results;
  int rc = 0;
  for (std::size_t i = 0; i < backends.size(); ++i) {
    const auto& b = backends[i];
    settings q = s;
    q.mode = "throughput";
    q.json_out = dir / (b + ".json");
    if (b == "sqlite") {
      q.db_url = "sqlite:///" + (dir / "validator.db").string();
    } else if (b == "bettensor") {
      const auto file = dir / "neuron-validator.db";
      make_neuron_database(file);
      q.db_url = "bettensor:///" + file.string();
    } else {
      if (!pg) pg.emplace(true);  // fsync on, like the SQLite files
      q.db_url = pg->create_database("bench_" + std::to_string(i));
    }
    std::printf("\n== backend %s (%s)\n", b.c_str(), q.db_url->c_str());
    std::fflush(stdout);
    rc = std::max(rc, run_mode(q));
    std::ifstream in(*q.json_out);
    std::ostringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    auto v = json::parse(text.str(), ec);
    results.push_back({b, !ec && v.is_object() ? v.as_object() : json::object{}});
  }
  const auto cell = [](const json::object& o, const char* key, int decimals) {
    const auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_number()) return std::string("-");
    return figure(v->to_number<double>(), decimals);
  };
  std::printf(
      "\nstorage backends side by side (method: the throughput mode above, %d connections, "
      "%d in flight\neach, %.0f s per backend, one after another on this machine; each on "
      "a fresh database)\n",
      s.connections, s.inflight, s.duration);
  std::printf("%-34s", "");
  for (const auto& r : results) std::printf("%14s", r.backend.c_str());
  std::printf("\n");
  for (const auto& [label, key, decimals] : std::vector<std::tuple<const char*, const char*, int>>{
           {"confirmed predictions/s", "rate", 0},
           {"server CPU µs per prediction", "server_cpu_us_per_prediction", 1},
           {"predictions per commit", "predictions_per_commit", 1},
           {"commit ms (mean)", "commit_ms", 2},
           {"server cores busy", "server_cores", 2}}) {
    std::printf("%-34s", label);
    for (const auto& r : results) std::printf("%14s", cell(r.figures, key, decimals).c_str());
    std::printf("\n");
  }
  pg.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
  return rc;
}

int run_mode(const settings& s) {
  if (s.compression) std::printf("\n(every miner offers permessage-deflate)\n");
  if (s.mode == "connections") return run_connections(s);
  if (s.mode == "broadcast") return run_broadcast(s);
  if (s.mode == "http") return run_http(s);
  if (s.mode == "commit") return run_commit(s);
  return run_stream(s);
}

}  // namespace

int main(int argc, char** argv) try {
  po::options_description flags("Load");
  flags.add_options()(
      "mode", po::value<std::string>()->default_value("throughput"),
      "throughput: C connections each keeping W predictions in flight; latency: a fixed offered "
      "rate, open loop, percentiles from the intended send time; connections: idle "
      "authenticated miners in --steps, server memory and heartbeats; broadcast: time for a "
      "--games update to reach N miners, N in --steps; http: predictions via POST /predictions; "
      "commit: bare SQLite commits at --rate in --db_dir, no validator (the disk's floor for "
      "latency)")("connections", po::value<int>()->default_value(50),
                  "C: miner connections sending")("inflight", po::value<int>()->default_value(8),
                                                  "W: predictions in flight per connection")(
      "duration", po::value<double>()->default_value(10), "seconds measured")(
      "rate", po::value<double>()->default_value(2000), "latency: predictions/s offered in total")(
      "idle", po::value<int>()->default_value(0),
      "latency: this many more miners connected that only listen")(
      "broadcast_every", po::value<double>()->default_value(0),
      "latency with --idle: seconds between game updates posted during the run")(
      "steps", po::value<std::string>(),
      "connections/broadcast: connection counts (default 1000,5000,10000,15000 and "
      "100,1000,10000)")("games", po::value<int>()->default_value(50),
                         "broadcast/latency: games in each update")(
      "rounds", po::value<int>()->default_value(5), "broadcast: updates timed per step")(
      "hold", po::value<double>(), "connections: seconds held at each step (default interval+1.5)")(
      "heartbeat_interval", po::value<int>(),
      "connections: the validator's heartbeat interval in seconds (default 5)")(
      "threads", po::value<int>(), "the validator's --threads (default: its own default)")(
      "quick", po::bool_switch(), "a short smoke run of every mode (well under a minute)")(
      "verify_sample", po::value<double>()->default_value(0.01),
      "share of confirmations whose signature the load generator verifies (0 to 1)")(
      "backends", po::value<std::string>(),
      "run the throughput mode once per storage backend and print them side by side: a "
      "comma-separated list of sqlite, bettensor, postgresql")(
      "db_dir", po::value<std::string>(),
      "directory for the validator's SQLite file (default: the temporary directory; e.g. "
      "/dev/shm to see what the pipeline costs without the disk's fsync)")(
      "validator_bin", po::value<std::string>(),
      "the bettensor-validator to start (default: next to this program, then PATH)")(
      "json", po::value<std::string>(), "also write the results as JSON to this file")(
      "compression", po::bool_switch(),
      "miners offer permessage-deflate and the validator started here accepts it (a --url "
      "validator needs --websocket.compression=true)");
  po::options_description target_flags("A validator started by hand (instead of a child process)");
  target_flags.add_options()(
      "prepare", po::bool_switch(),
      "write miner keys, a metagraph listing them, games, an admin token and validator.args to "
      "--workdir, print the bettensor-validator command that uses them, and exit")(
      "workdir", po::value<std::string>(), "the directory --prepare writes and --url reads")(
      "miners", po::value<int>()->default_value(15000), "--prepare: miner keys to generate")(
      "validator_hotkey", po::value<std::string>(),
      "--prepare: SS58 of the validator's own hotkey (default: a new wallet in --workdir)")(
      "url", po::value<std::string>(),
      "drive the validator at ws://HOST:PORT (prepared with --prepare; POST /games must accept "
      "this client)")("server_pid", po::value<int>(),
                      "with --url: the validator's pid on this machine, for its CPU and memory "
                      "(default: those figures are n/a)");
  flags.add(target_flags);
  const auto vm_opt = cli::parse(
      argc, argv,
      {"bettensor-bench",
       "Load generator for bettensor-validator: generates miner keys, a metagraph and games,\n"
       "starts the validator as a child process on loopback, drives it with signed predictions\n"
       "over WebSocket (or HTTP), and prints a table with the method. To measure a validator\n"
       "started by hand: --prepare --workdir DIR, start it as printed, then --url ... --workdir "
       "DIR."},
      flags);
  if (!vm_opt) return 0;
  const auto& vm = *vm_opt;
  // As in the validator, so that --mode=commit times the commits it makes.
  if (const auto why = storage::pool_sqlite_memory(); !why.empty()) std::cerr << why << "\n";
  settings s;
  s.mode = vm["mode"].as<std::string>();
  if (s.mode != "throughput" && s.mode != "latency" && s.mode != "connections" &&
      s.mode != "broadcast" && s.mode != "http" && s.mode != "commit")
    throw cli::usage_error(
        "--mode must be throughput, latency, connections, broadcast, http or commit (got '" +
        s.mode + "')");
  s.rate = vm["rate"].as<double>();
  if (!(s.rate > 0 && s.rate <= 1e6)) throw cli::usage_error("--rate must be between 0 and 1e6");
  s.connections = vm["connections"].as<int>();
  s.inflight = vm["inflight"].as<int>();
  s.duration = cli::positive_seconds(vm, "duration");
  s.verify_sample = vm["verify_sample"].as<double>();
  s.idle = vm["idle"].as<int>();
  s.broadcast_every = vm["broadcast_every"].as<double>();
  s.games = vm["games"].as<int>();
  s.rounds = vm["rounds"].as<int>();
  if (s.connections < 1 || s.connections > 20000)
    throw cli::usage_error("--connections must be between 1 and 20000");
  if (s.inflight < 1 || s.inflight > 1000)
    throw cli::usage_error("--inflight must be between 1 and 1000");
  if (!(s.verify_sample >= 0 && s.verify_sample <= 1))
    throw cli::usage_error("--verify_sample must be between 0 and 1");
  if (s.idle < 0 || s.idle > 60000) throw cli::usage_error("--idle must be between 0 and 60000");
  if (!(s.broadcast_every >= 0)) throw cli::usage_error("--broadcast_every must not be negative");
  if (s.games < 1 || s.games > 1000) throw cli::usage_error("--games must be between 1 and 1000");
  if (s.rounds < 1 || s.rounds > 1000)
    throw cli::usage_error("--rounds must be between 1 and 1000");
  if (vm.count("hold") != 0) s.hold = cli::positive_seconds(vm, "hold");
  if (vm.count("heartbeat_interval") != 0)
    s.heartbeat_interval = cli::positive_int(vm, "heartbeat_interval");
  if (vm.count("threads") != 0) s.threads = cli::positive_int(vm, "threads");
  if (vm.count("steps") != 0) {
    s.steps = parse_steps(vm["steps"].as<std::string>());
  } else {
    s.steps = s.mode == "broadcast" ? std::vector<int>{100, 1000, 10000}
                                    : std::vector<int>{1000, 5000, 10000, 15000};
  }
  if (vm.count("json") != 0) s.json_out = vm["json"].as<std::string>();
  if (vm.count("db_dir") != 0) {
    s.db_dir = vm["db_dir"].as<std::string>();
    if (!fs::is_directory(*s.db_dir))
      throw cli::usage_error("--db_dir: " + s.db_dir->string() + " is not a directory");
  }
  if (vm.count("workdir") != 0) s.workdir = vm["workdir"].as<std::string>();
  s.compression = vm["compression"].as<bool>();
  if (vm["prepare"].as<bool>()) {
    if (!s.workdir) throw cli::usage_error("--prepare needs --workdir");
    const int miners = vm["miners"].as<int>();
    if (miners < 1 || miners > 60000)
      throw cli::usage_error("--miners must be between 1 and 60000");
    std::optional<std::string> hotkey;
    if (vm.count("validator_hotkey") != 0) hotkey = vm["validator_hotkey"].as<std::string>();
    return prepare(*s.workdir, miners, hotkey, s.heartbeat_interval > 0 ? s.heartbeat_interval : 5);
  }
  if (vm.count("url") != 0) {
    if (!s.workdir) throw cli::usage_error("--url needs --workdir (written by --prepare)");
    s.url = parse_url(vm["url"].as<std::string>());
    if (vm.count("server_pid") != 0) s.server_pid = cli::positive_int(vm, "server_pid");
    if (s.threads > 0 || s.db_dir)
      throw cli::usage_error("--threads and --db_dir apply to a validator the bench starts");
  } else if (vm.count("server_pid") != 0 || s.workdir) {
    throw cli::usage_error("--workdir and --server_pid go with --url or --prepare");
  }
  if (s.url) {
    // no validator to start
  } else if (vm.count("validator_bin") != 0) {
    s.validator_bin = vm["validator_bin"].as<std::string>();
  } else {
    const auto self = fs::read_symlink("/proc/self/exe");
    const auto sibling = self.parent_path().parent_path() / "validator" / "bettensor-validator";
    const auto installed = self.parent_path() / "bettensor-validator";
    s.validator_bin = fs::exists(sibling) ? sibling : installed;
  }
  if (!s.url && !fs::exists(s.validator_bin))
    throw cli::usage_error("--validator_bin: " + s.validator_bin.string() + " does not exist");
  raise_descriptor_limit();

  if (vm.count("backends") != 0) {
    if (s.url)
      throw cli::usage_error("--backends starts its own validators: it goes without --url");
    std::vector<std::string> backends;
    std::stringstream list(vm["backends"].as<std::string>());
    for (std::string b; std::getline(list, b, ',');) {
      if (b != "sqlite" && b != "bettensor" && b != "postgresql")
        throw cli::usage_error("--backends: '" + b + "' is not sqlite, bettensor or postgresql");
      backends.push_back(b);
    }
    if (backends.empty()) throw cli::usage_error("--backends must name at least one backend");
    return run_backends(s, backends);
  }
  if (!vm["quick"].as<bool>()) return run_mode(s);
  // Every mode, small and short, every confirmation verified; --json is not written.
  s.json_out.reset();
  s.verify_sample = 1;
  int rc = 0;
  for (const std::string mode :
       {"throughput", "latency", "connections", "broadcast", "http", "commit"}) {
    settings q = s;
    q.mode = mode;
    q.connections = 5;
    q.duration = mode == "latency" || mode == "commit" ? 1 : 2;
    q.rate = 500;
    q.idle = mode == "latency" ? 20 : 0;
    q.broadcast_every = 0.5;
    q.steps = mode == "broadcast" ? std::vector<int>{10, 50} : std::vector<int>{20, 100};
    q.rounds = 2;
    // A validator started by hand keeps its heartbeat interval (5 s when prepared here).
    q.heartbeat_interval = s.url ? (s.heartbeat_interval > 0 ? s.heartbeat_interval : 5) : 1;
    q.hold = q.heartbeat_interval + 0.5;
    rc = std::max(rc, run_mode(q));
  }
  return rc;
} catch (const cli::usage_error& e) {
  std::cerr << "bettensor-bench: " << e.what() << " (see --help)\n";
  return cli::usage_exit_code;
} catch (const std::exception& e) {
  std::cerr << "bettensor-bench: " << e.what() << '\n';
  return 1;
}
