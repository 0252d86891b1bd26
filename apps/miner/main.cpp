// bettensor-miner: connects to every validator it knows, pushes predictions, keeps what it was
// sent (see --help).
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <exception>
#include <iostream>
#include <thread>
#include <vector>

#include "bettensor/chain/flags.hpp"
#include "bettensor/cli/options.hpp"
#include "bettensor/crypto/wallet.hpp"
#include "bettensor/domain/metagraph.hpp"
#include "bettensor/miner/miner_service.hpp"
#include "bettensor/storage/sqlite_memory.hpp"
#include "bettensor/storage/storage_error.hpp"
#include "bettensor/transport/validator_link.hpp"

namespace po = boost::program_options;
namespace net = boost::asio;
using namespace bettensor;

namespace {

po::options_description miner_flags() {
  po::options_description ws("Validators and WebSocket");
  ws.add_options()("validator", po::value<std::vector<std::string>>()->composing(),
                   "a validator to deliver to, ws://HOST:PORT@VALIDATOR_SS58 or wss://... for TLS "
                   "(repeatable; frames must be signed by that hotkey)")(
      "metagraph.file", po::value<std::string>(),
      "metagraph snapshot (JSON): every neuron with validator_permit and a non-zero IP is dialled; "
      "re-read when it changes or on SIGHUP")(
      "metagraph.ws_port", po::value<int>()->default_value(0),
      "port to dial on metagraph validators (0: the axon port listed in the file)")(
      "metagraph.tls", po::value<bool>()->default_value(false),
      "dial metagraph validators with wss:// (TLS)")(
      "validator_min_stake", po::value<double>()->default_value(0),
      "metagraph validators staked below this (units of stake, as the SDK's metagraph.S) are not "
      "dialled; --validator entries are always dialled")(
      "websocket_enabled", po::value<bool>()->default_value(true),
      "deliver over WebSocket (false: HTTP POST /predictions only)")(
      "websocket_heartbeat_interval", po::value<int>()->default_value(60),
      "seconds between heartbeats sent to each validator")(
      "websocket_connection_timeout", po::value<int>()->default_value(300),
      "seconds of silence from a validator after which the miner reconnects")(
      "websocket_connect_timeout", po::value<int>()->default_value(10),
      "seconds to connect and be welcomed")(
      "websocket_reconnect_base_interval", po::value<double>()->default_value(5),
      "seconds: after n consecutive failures a reconnect waits a uniformly random time in "
      "[0, min(max, base*2^n)]")("websocket_max_reconnect_interval",
                                 po::value<double>()->default_value(300),
                                 "seconds: the largest reconnect delay")(
      "websocket_tls_ca", po::value<std::string>(),
      "PEM file of the CA certificates trusted for wss:// validators (default: the system's)")(
      "websocket_compression", po::value<bool>()->default_value(false),
      "offer permessage-deflate (used when the validator accepts it)")(
      "websocket_compression_threshold", po::value<int>()->default_value(1024),
      "bytes: shorter messages are sent uncompressed")(
      "websocket_log_level", po::value<std::string>(),
      "log level for connection events (default: --log_level)")(
      "log_level", po::value<std::string>()->default_value("info"),
      "trace, debug, info, warn, error, off (trace shows every frame)")(
      "http_fallback", po::value<bool>()->default_value(true),
      "send pending predictions to a validator's POST /predictions when its WebSocket is down")(
      "http_fallback_grace", po::value<double>()->default_value(10),
      "seconds without a WebSocket to a validator before the HTTP fallback starts")(
      "threads", po::value<int>()->default_value(2), "I/O threads");
  po::options_description rest("Identity, predictions and storage");
  rest.add_options()("wallet.path", po::value<std::string>()->default_value("~/.bittensor/wallets"),
                     "wallets directory")(
      "wallet.name", po::value<std::string>()->default_value("default"), "wallet name")(
      "wallet.hotkey", po::value<std::string>()->default_value("default"),
      "hotkey name (the miner's identity)")(
      "db.path", po::value<std::string>()->default_value("miner.db"),
      "SQLite database: games and the prediction outbox (created if absent)")(
      "strategy", po::value<std::string>()->default_value("favorite"),
      "built-in predictions for upcoming games: favorite, underdog or none")(
      "wager", po::value<double>()->default_value(10), "wager of each built-in prediction")(
      "model_name", po::value<std::string>()->default_value("bettensor-miner"),
      "model_name sent with built-in predictions")(
      "metrics.port", po::value<int>(),
      "serve GET /metrics on this port (also served on --api.port)")(
      "metrics.address", po::value<std::string>()->default_value("127.0.0.1"),
      "address for --metrics.port")(
      "check-config", po::bool_switch(),
      "check the flags, wallet and files, print what would run, and exit (0 if all is well)")(
      "api.port", po::value<int>(),
      "serve the local model API (POST /predictions, GET /status) on this port; off when not "
      "given, 0 picks a free port")("api.address",
                                    po::value<std::string>()->default_value("127.0.0.1"),
                                    "address of the local model API (it answers loopback "
                                    "clients only)");
  po::options_description all;
  po::options_description axon("Bittensor conventions");
  axon.add_options()("axon.port", po::value<int>(),
                     "accepted as start scripts pass it; the miner serves no axon (it dials its "
                     "validators), so the port is checked and not used");
  all.add(ws)
      .add(rest)
      .add(chain::subtensor_options())
      .add(axon)
      .add(cli::bittensor_logging_options());
  return all;
}

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
}

}  // namespace

int main(int argc, char** argv) try {
  const auto vm_opt = cli::parse(
      argc, argv,
      {"bettensor-miner",
       "Bettensor miner: keeps a WebSocket to every validator it knows (--validator and/or\n"
       "--metagraph.file), receives game updates, and delivers each prediction to every\n"
       "validator until that validator has answered it. Predictions are stored before they are\n"
       "sent, so a restart loses nothing. Exit codes: 0 after SIGINT/SIGTERM, 1 runtime\n"
       "failure, 2 bad flags or files. SIGHUP re-reads the metagraph file."},
      miner_flags());
  if (!vm_opt) return 0;
  const auto& vm = *vm_opt;

  miner::miner_options opts;
  if (vm.count("validator") != 0) {
    for (const auto& text : vm["validator"].as<std::vector<std::string>>()) {
      auto v = miner::parse_validator_address(text);
      if (!v) throw cli::usage_error("--validator: " + v.error().message);
      opts.validators.push_back(*v);
    }
  }
  if (vm.count("metagraph.file") != 0) opts.metagraph_file = vm["metagraph.file"].as<std::string>();
  opts.db_path = cli::expand_user(vm["db.path"].as<std::string>());
  opts.chain = chain::subtensor_config(vm, opts.db_path);
  if (opts.chain && opts.metagraph_file)
    throw cli::usage_error(
        "--metagraph.file and --subtensor.* both name the metagraph's source: give one");
  if (opts.validators.empty() && !opts.metagraph_file && !opts.chain)
    throw cli::usage_error(
        "give --validator, --metagraph.file or --subtensor.network/--subtensor.chain_endpoint: "
        "no validator to deliver to");
  opts.validator_min_stake = vm["validator_min_stake"].as<double>();
  if (!(opts.validator_min_stake >= 0))
    throw cli::usage_error("--validator_min_stake must not be negative");
  opts.metagraph_ws_port = cli::port(vm, "metagraph.ws_port");
  opts.metagraph_tls = vm["metagraph.tls"].as<bool>();
  if (vm.count("websocket_tls_ca") != 0)
    opts.link.tls_ca_file = cli::expand_user(vm["websocket_tls_ca"].as<std::string>()).string();
  opts.link.compression = vm["websocket_compression"].as<bool>();
  const int threshold = vm["websocket_compression_threshold"].as<int>();
  if (threshold < 0)
    throw cli::usage_error("--websocket_compression_threshold must not be negative");
  opts.link.compression_threshold = static_cast<std::size_t>(threshold);

  opts.websocket_enabled = vm["websocket_enabled"].as<bool>();
  opts.link.heartbeat_interval =
      std::chrono::seconds(cli::positive_int(vm, "websocket_heartbeat_interval"));
  opts.link.silence_timeout =
      std::chrono::seconds(cli::positive_int(vm, "websocket_connection_timeout"));
  opts.link.connect_timeout =
      std::chrono::seconds(cli::positive_int(vm, "websocket_connect_timeout"));
  const double base = cli::positive_seconds(vm, "websocket_reconnect_base_interval");
  const double max = cli::positive_seconds(vm, "websocket_max_reconnect_interval");
  if (base > max)
    throw cli::usage_error(
        "--websocket_reconnect_base_interval must not exceed --websocket_max_reconnect_interval");
  opts.link.reconnect_base = millis(base);
  opts.link.reconnect_max = millis(max);
  opts.http_fallback = vm["http_fallback"].as<bool>();
  opts.http_fallback_grace = millis(cli::positive_seconds(vm, "http_fallback_grace"));
  if (!opts.websocket_enabled && !opts.http_fallback)
    throw cli::usage_error("--websocket_enabled=false needs --http_fallback=true");

  auto strat = miner::parse_strategy(vm["strategy"].as<std::string>());
  if (!strat) throw cli::usage_error("--strategy: " + strat.error().message);
  opts.strat = *strat;
  opts.wager = vm["wager"].as<double>();
  if (!(opts.wager > 0)) throw cli::usage_error("--wager must be positive");
  opts.model_name = vm["model_name"].as<std::string>();
  if (vm.count("api.port") != 0) opts.api_port = cli::port(vm, "api.port");
  opts.api_address = vm["api.address"].as<std::string>();
  const int threads = cli::positive_int(vm, "threads");

  const auto log_level = spdlog::level::from_str(cli::log_level_name(
      "log_level", cli::bittensor_log_level(vm, vm["log_level"].as<std::string>())));
  if (vm.count("axon.port") != 0) cli::port(vm, "axon.port");
  spdlog::set_level(vm.count("websocket_log_level") != 0
                        ? std::min(log_level, spdlog::level::from_str(cli::log_level_name(
                                                  "websocket_log_level",
                                                  vm["websocket_log_level"].as<std::string>())))
                        : log_level);
  if (const auto why = storage::pool_sqlite_memory(); !why.empty()) spdlog::warn("{}", why);

  const crypto::wallet_location wallet{cli::expand_user(vm["wallet.path"].as<std::string>()),
                                       vm["wallet.name"].as<std::string>(),
                                       vm["wallet.hotkey"].as<std::string>()};
  auto identity = crypto::load_hotkey(wallet.hotkey_file());
  if (!identity) throw cli::usage_error("--wallet.hotkey: " + identity.error().message);

  if (opts.metagraph_file) {
    if (auto m = domain::metagraph::load(*opts.metagraph_file); !m)
      throw cli::usage_error("--metagraph.file: " + m.error().message);
  }
  const bool any_tls =
      opts.metagraph_tls || std::any_of(opts.validators.begin(), opts.validators.end(),
                                        [](const miner::validator_endpoint& v) { return v.tls; });
  if (any_tls) {
    auto tls = opts.link;
    tls.tls = true;
    try {
      transport::check_link_tls(tls);
    } catch (const std::invalid_argument& e) {
      throw cli::usage_error(std::string("--websocket_tls_ca: ") + e.what());
    }
  }

  std::optional<std::uint16_t> metrics_port;
  if (vm.count("metrics.port") != 0) metrics_port = cli::port(vm, "metrics.port");
  if (vm["check-config"].as<bool>()) {
    std::cout << "bettensor-miner: configuration OK: hotkey " << identity->ss58 << ", "
              << opts.validators.size() << " validators from --validator"
              << (opts.metagraph_file ? " plus the metagraph file's"
                  : opts.chain        ? " plus the metagraph's from " + chain::describe(*opts.chain)
                                      : std::string())
              << ", stake floor " << opts.validator_min_stake << ", database "
              << opts.db_path.string() << '\n';
    return 0;
  }
  opts.metrics = std::make_shared<metrics::registry>();

  net::io_context ioc(threads);
  std::unique_ptr<miner::miner_service> service;
  try {
    service = std::make_unique<miner::miner_service>(ioc, std::move(opts), std::move(*identity));
  } catch (const storage::storage_error& e) {
    throw cli::usage_error(std::string("--db.path: ") + e.what());
  } catch (const std::system_error& e) {
    throw cli::usage_error(std::string("--api.port: ") + e.what());
  } catch (const std::runtime_error& e) {
    throw cli::usage_error(e.what());
  }
  spdlog::info("Miner {} starting", service->hotkey());

  net::signal_set signals(ioc, SIGINT, SIGTERM, SIGHUP);
  bool stopping = false;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          spdlog::info("SIGHUP: re-reading the metagraph");
          service->reload();
        } else if (!stopping) {
          stopping = true;
          spdlog::info("Shutting down: closing validator connections (the outbox is on disk)");
          service->stop([&] { ioc.stop(); });
        } else {
          spdlog::warn("Second signal: stopping now");
          ioc.stop();
        }
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  service->start();
  if (metrics_port) {
    try {
      const auto bound =
          service->metrics().expose(vm["metrics.address"].as<std::string>(), *metrics_port);
      spdlog::info("Metrics on http://{}:{}/metrics", vm["metrics.address"].as<std::string>(),
                   bound);
    } catch (const std::runtime_error& e) {
      throw cli::usage_error(std::string("--metrics.port: ") + e.what());
    }
  }

  // Every database step handles its own failure; this only keeps a missed one from ending the
  // miner (and a container from restarting it in a loop while the disk is full).
  const auto run = [&] {
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const storage::storage_error& e) {
        spdlog::error("Unhandled database failure, continuing: {}", e.what());
      }
    }
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(run);
  run();
  for (auto& t : pool) t.join();
  return 0;
} catch (const cli::usage_error& e) {
  std::cerr << "bettensor-miner: " << e.what() << " (see --help)\n";
  return cli::usage_exit_code;
} catch (const std::exception& e) {
  std::cerr << "bettensor-miner: " << e.what() << '\n';
  return 1;
}
