// bettensor-validator: the WebSocket + HTTP hub miners connect to (see --help).
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <exception>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "bettensor/chain/flags.hpp"
#include "bettensor/cli/options.hpp"
#include "bettensor/crypto/wallet.hpp"
#include "bettensor/domain/metagraph.hpp"
#include "bettensor/domain/rules.hpp"
#include "bettensor/storage/sqlite_memory.hpp"
#include "bettensor/storage/validator_store.hpp"
#include "bettensor/validator/validator_service.hpp"

namespace po = boost::program_options;
namespace net = boost::asio;
using namespace bettensor;

namespace {

po::options_description validator_options() {
  po::options_description ws("WebSocket and HTTP (one port)");
  ws.add_options()("websocket.enabled", po::value<bool>()->default_value(true),
                   "serve WebSocket upgrades on /ws (HTTP is always served)")(
      "websocket.address", po::value<std::string>()->default_value("0.0.0.0"),
      "address to listen on")("websocket.port", po::value<int>()->default_value(10401),
                              "port for /ws, /ws/health, /predictions, /games (0: any free port)")(
      "websocket.heartbeat_interval", po::value<int>()->default_value(60),
      "seconds between heartbeats sent to each miner")(
      "websocket.connection_timeout", po::value<int>()->default_value(300),
      "seconds of silence after which a miner is disconnected")(
      "websocket.handshake_timeout", po::value<int>()->default_value(10),
      "seconds a new connection has to authenticate")("websocket.max_connections",
                                                      po::value<int>()->default_value(4096),
                                                      "WebSocket connections accepted at once")(
      "websocket.max_message_bytes", po::value<int>()->default_value(64 * 1024),
      "largest incoming frame or HTTP body")(
      "websocket.rate_limit", po::value<double>()->default_value(100),
      "messages per second allowed per connection (token bucket refill)")(
      "websocket.rate_burst", po::value<double>()->default_value(400), "token bucket size")(
      "websocket.max_invalid_frames", po::value<int>()->default_value(20),
      "invalid frames tolerated before closing with 1008")(
      "websocket.send_queue", po::value<int>()->default_value(1024),
      "frames queued per connection before it is closed as a slow consumer")(
      "websocket.key_cache_mb", po::value<int>()->default_value(64),
      "memory for the verification tables of the miners that send predictions (about 40 KB "
      "each, least recently used dropped first; 0: none)")(
      "websocket.tls_cert", po::value<std::string>(),
      "PEM certificate chain: serve wss:// and https:// (with --websocket.tls_key; without "
      "both, plain ws:// for a TLS-terminating proxy)")(
      "websocket.tls_key", po::value<std::string>(), "PEM private key of --websocket.tls_cert")(
      "trusted_proxy", po::value<std::vector<std::string>>()->composing(),
      "IP address of a reverse proxy whose X-Forwarded-For names the real client (repeatable); "
      "from anyone else the header is ignored")(
      "websocket.compression", po::value<bool>()->default_value(false),
      "accept permessage-deflate from miners that offer it")(
      "websocket.compression_threshold", po::value<int>()->default_value(1024),
      "bytes: shorter messages are sent uncompressed")(
      "websocket.log_level", po::value<std::string>(),
      "log level for connection events (default: --log.level)")(
      "log.level", po::value<std::string>()->default_value("info"),
      "trace, debug, info, warn, error, off (trace shows every frame)")(
      "threads",
      po::value<int>()->default_value(
          static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
      "I/O threads");
  po::options_description files("Identity, files and storage");
  files.add_options()("wallet.path",
                      po::value<std::string>()->default_value("~/.bittensor/wallets"),
                      "wallets directory")(
      "wallet.name", po::value<std::string>()->default_value("default"), "wallet name")(
      "wallet.hotkey", po::value<std::string>()->default_value("default"),
      "hotkey name (the validator's identity)")(
      "metagraph.file", po::value<std::string>(),
      "metagraph snapshot (JSON), re-read when it changes or on SIGHUP; required unless the "
      "metagraph is read from the chain (--subtensor.network or --subtensor.chain_endpoint)")(
      "blacklist.file", po::value<std::string>(),
      "hotkeys refused even when registered, one per line; re-read on change")(
      "games.file", po::value<std::string>(),
      "games to offer (JSON array of TeamGame); re-read on change and broadcast")(
      "admin.token_file", po::value<std::string>(),
      "file holding the bearer token for POST /games (disabled without it)")(
      "admin.allow_remote", po::value<bool>()->default_value(false),
      "accept POST /games from non-loopback clients")(
      "db.path", po::value<std::string>()->default_value("validator.db"),
      "SQLite database (created if absent); shorthand for --db.url=sqlite:///PATH")(
      "db.url", po::value<std::string>(),
      "where verdicts and games are kept: sqlite:///PATH, bettensor:///PATH (the Python "
      "validator's own database) or postgresql://USER:PASSWORD@HOST:PORT/DB (shared by "
      "instances)")(
      "db.retry_for", po::value<int>()->default_value(30),
      "seconds verdicts wait for an unavailable database before the storage failure answer")(
      "metrics.port", po::value<int>(),
      "also serve GET /metrics on this port (it is always served on --websocket.port)")(
      "metrics.address", po::value<std::string>()->default_value("127.0.0.1"),
      "address for --metrics.port")(
      "check-config", po::bool_switch(),
      "check the flags, wallet and files, print what would run, and exit (0 if all is well)")(
      "predictions.daily_wager_limit", po::value<double>()->default_value(1000.0),
      "accepted wagers per miner per UTC day");
  po::options_description all;
  po::options_description axon("Bittensor conventions");
  axon.add_options()("axon.port", po::value<int>(),
                     "serve /ws (and all of --websocket.port's routes) on this port, where the "
                     "chain lists the validator's axon; replaces --websocket.port");
  all.add(ws)
      .add(files)
      .add(chain::subtensor_options())
      .add(axon)
      .add(cli::bittensor_logging_options());
  return all;
}

spdlog::level::level_enum level(const std::string& flag, const std::string& name) {
  return spdlog::level::from_str(cli::log_level_name(flag, name));
}

// --check-config: every file the validator would read at start, read and checked.
void check_files(const validator::validator_options& o) {
  if (o.chain) {
    if (o.chain->cache_file && std::filesystem::exists(*o.chain->cache_file)) {
      if (auto m = domain::metagraph::load(*o.chain->cache_file); !m)
        throw cli::usage_error("--metagraph.cache: " + m.error().message);
    }
  } else if (auto m = domain::metagraph::load(o.metagraph_file); !m) {
    throw cli::usage_error("--metagraph.file: " + m.error().message);
  }
  if (o.blacklist_file) {
    if (auto b = domain::blacklist::load(*o.blacklist_file); !b)
      throw cli::usage_error("--blacklist.file: " + b.error().message);
  }
  if (o.games_file) {
    if (auto g = domain::game_book::load(*o.games_file); !g)
      throw cli::usage_error("--games.file: " + g.error().message);
  }
  if (o.admin_token_file && !std::ifstream(*o.admin_token_file))
    throw cli::usage_error("--admin.token_file: cannot read " + o.admin_token_file->string());
  if (!o.server.tls_cert_file.empty()) {
    try {
      transport::check_tls(o.server);
    } catch (const std::runtime_error& e) {
      throw cli::usage_error(std::string("--websocket.tls_cert/--websocket.tls_key: ") + e.what());
    }
  }
}

}  // namespace

int main(int argc, char** argv) try {
  const auto vm_opt = cli::parse(
      argc, argv,
      {"bettensor-validator",
       "Bettensor validator: miners connect to ws://HOST:PORT/ws, authenticate with their\n"
       "hotkey, push predictions and get signed confirmations; game updates are broadcast.\n"
       "Exit codes: 0 after a clean shutdown (SIGINT/SIGTERM), 1 runtime failure, 2 bad\n"
       "flags or files. SIGHUP re-reads the metagraph, blacklist and games files."},
      validator_options());
  if (!vm_opt) return 0;
  const auto& vm = *vm_opt;

  validator::validator_options opts;
  auto& s = opts.server;
  s.websocket_enabled = vm["websocket.enabled"].as<bool>();
  s.address = vm["websocket.address"].as<std::string>();
  s.port = cli::port(vm, "websocket.port");
  if (vm.count("axon.port") != 0) {
    if (!vm["websocket.port"].defaulted())
      throw cli::usage_error("--axon.port and --websocket.port both name the port: give one");
    s.port = cli::port(vm, "axon.port");
  }
  s.heartbeat_interval =
      std::chrono::seconds(cli::positive_int(vm, "websocket.heartbeat_interval"));
  s.connection_timeout =
      std::chrono::seconds(cli::positive_int(vm, "websocket.connection_timeout"));
  s.handshake_timeout = std::chrono::seconds(cli::positive_int(vm, "websocket.handshake_timeout"));
  s.max_connections = static_cast<std::size_t>(cli::positive_int(vm, "websocket.max_connections"));
  s.max_message_bytes =
      static_cast<std::size_t>(cli::positive_int(vm, "websocket.max_message_bytes"));
  s.max_http_body_bytes = s.max_message_bytes;
  s.rate_limit_per_second = vm["websocket.rate_limit"].as<double>();
  s.rate_limit_burst = vm["websocket.rate_burst"].as<double>();
  if (!(s.rate_limit_per_second > 0))
    throw cli::usage_error("--websocket.rate_limit must be positive");
  if (!(s.rate_limit_burst >= 1))
    throw cli::usage_error("--websocket.rate_burst must be at least 1");
  s.max_invalid_frames =
      static_cast<std::size_t>(cli::positive_int(vm, "websocket.max_invalid_frames"));
  s.send_queue_frames = static_cast<std::size_t>(cli::positive_int(vm, "websocket.send_queue"));
  const int key_cache_mb = vm["websocket.key_cache_mb"].as<int>();
  if (key_cache_mb < 0 || key_cache_mb > 1 << 20)
    throw cli::usage_error("--websocket.key_cache_mb must be between 0 and 1048576");
  s.key_cache_bytes = static_cast<std::size_t>(key_cache_mb) << 20;
  if ((vm.count("websocket.tls_cert") != 0) != (vm.count("websocket.tls_key") != 0))
    throw cli::usage_error("--websocket.tls_cert and --websocket.tls_key go together");
  if (vm.count("websocket.tls_cert") != 0) {
    s.tls_cert_file = cli::expand_user(vm["websocket.tls_cert"].as<std::string>()).string();
    s.tls_key_file = cli::expand_user(vm["websocket.tls_key"].as<std::string>()).string();
  }
  if (vm.count("trusted_proxy") != 0) {
    for (const auto& text : vm["trusted_proxy"].as<std::vector<std::string>>()) {
      boost::system::error_code ec;
      boost::asio::ip::make_address(text, ec);
      if (ec) throw cli::usage_error("--trusted_proxy: '" + text + "' is not an IP address");
      s.trusted_proxies.push_back(text);
    }
  }
  s.compression = vm["websocket.compression"].as<bool>();
  const int threshold = vm["websocket.compression_threshold"].as<int>();
  if (threshold < 0)
    throw cli::usage_error("--websocket.compression_threshold must not be negative");
  s.compression_threshold = static_cast<std::size_t>(threshold);
  const int threads = cli::positive_int(vm, "threads");

  const auto log_level =
      level("log.level", cli::bittensor_log_level(vm, vm["log.level"].as<std::string>()));
  spdlog::set_level(vm.count("websocket.log_level") != 0
                        ? std::min(log_level, level("websocket.log_level",
                                                    vm["websocket.log_level"].as<std::string>()))
                        : log_level);
  if (const auto why = storage::pool_sqlite_memory(); !why.empty()) spdlog::warn("{}", why);

  if (vm.count("db.url") != 0) {
    if (!vm["db.path"].defaulted())
      throw cli::usage_error("--db.url and --db.path both name the database: give one");
    try {
      opts.db = storage::parse_db_url(vm["db.url"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      throw cli::usage_error(std::string("--db.url: ") + e.what());
    }
    if (opts.db.kind != storage::db_url::backend::postgresql)
      opts.db.path = cli::expand_user(opts.db.path.string());
    opts.db_flag = "--db.url";
  } else {
    opts.db = storage::db_url::sqlite(cli::expand_user(vm["db.path"].as<std::string>()));
  }
  opts.db_retry_for = std::chrono::seconds(cli::positive_int(vm, "db.retry_for"));
  // The metagraph cache goes beside a database file, or into the working directory.
  opts.chain = chain::subtensor_config(vm, opts.db.kind == storage::db_url::backend::postgresql
                                               ? std::filesystem::path("validator.db")
                                               : opts.db.path);
  if (opts.chain && vm.count("metagraph.file") != 0)
    throw cli::usage_error(
        "--metagraph.file and --subtensor.* both name the metagraph's source: give one");
  if (!opts.chain) {
    if (vm.count("metagraph.file") == 0)
      throw cli::usage_error(
          "--metagraph.file is required (or read the metagraph from the chain with "
          "--subtensor.network or --subtensor.chain_endpoint)");
    opts.metagraph_file = vm["metagraph.file"].as<std::string>();
  }
  if (vm.count("blacklist.file") != 0) opts.blacklist_file = vm["blacklist.file"].as<std::string>();
  if (vm.count("games.file") != 0) opts.games_file = vm["games.file"].as<std::string>();
  if (vm.count("admin.token_file") != 0)
    opts.admin_token_file = vm["admin.token_file"].as<std::string>();
  opts.admin_allow_remote = vm["admin.allow_remote"].as<bool>();
  opts.daily_wager_limit = vm["predictions.daily_wager_limit"].as<double>();
  if (!(opts.daily_wager_limit > 0))
    throw cli::usage_error("--predictions.daily_wager_limit must be positive");

  const crypto::wallet_location wallet{cli::expand_user(vm["wallet.path"].as<std::string>()),
                                       vm["wallet.name"].as<std::string>(),
                                       vm["wallet.hotkey"].as<std::string>()};
  auto identity = crypto::load_hotkey(wallet.hotkey_file());
  if (!identity) throw cli::usage_error("--wallet.hotkey: " + identity.error().message);

  std::optional<std::uint16_t> metrics_port;
  if (vm.count("metrics.port") != 0) metrics_port = cli::port(vm, "metrics.port");
  if (vm["check-config"].as<bool>()) {
    check_files(opts);
    std::cout << "bettensor-validator: configuration OK: hotkey " << identity->ss58 << ", port "
              << opts.server.port << ", database " << storage::to_string(opts.db) << ", metagraph "
              << (opts.chain ? "from " + chain::describe(*opts.chain)
                             : "file " + opts.metagraph_file.string())
              << '\n';
    return 0;
  }
  opts.metrics = std::make_shared<metrics::registry>();

  net::io_context ioc(threads);
  validator::validator_service service(ioc, std::move(opts), std::move(*identity));

  // First SIGINT/SIGTERM: graceful stop (bounded); a second one: stop at once.
  net::signal_set signals(ioc, SIGINT, SIGTERM, SIGHUP);
  bool stopping = false;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          spdlog::info("SIGHUP: re-reading metagraph, blacklist and games");
          service.reload();
        } else if (!stopping) {
          stopping = true;
          spdlog::info("Shutting down: closing connections and flushing storage");
          service.stop([&] { ioc.stop(); });
        } else {
          spdlog::warn("Second signal: stopping now");
          ioc.stop();
        }
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  service.start();
  if (metrics_port) {
    try {
      const auto bound =
          service.metrics().expose(vm["metrics.address"].as<std::string>(), *metrics_port);
      spdlog::info("Metrics on http://{}:{}/metrics", vm["metrics.address"].as<std::string>(),
                   bound);
    } catch (const std::runtime_error& e) {
      throw validator::startup_error(std::string("--metrics.port: ") + e.what());
    }
  }

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  return 0;
} catch (const cli::usage_error& e) {
  std::cerr << "bettensor-validator: " << e.what() << " (see --help)\n";
  return cli::usage_exit_code;
} catch (const validator::startup_error& e) {
  std::cerr << "bettensor-validator: " << e.what() << '\n';
  return cli::usage_exit_code;
} catch (const std::exception& e) {
  std::cerr << "bettensor-validator: " << e.what() << '\n';
  return 1;
}
