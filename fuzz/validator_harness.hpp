// A real validator_service for the fuzz targets, without a socket (server.listen = false): a
// metagraph with one registered miner and one blacklisted hotkey, two upcoming games and an
// SQLite database in a temporary directory (under /dev/shm when it exists, so commits are
// cheap), its io_context run by one thread for the whole fuzzing run.
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/protocol/timestamp.hpp"
#include "bettensor/test/metagraph_file.hpp"
#include "bettensor/test/sample_games.hpp"
#include "bettensor/validator/validator_service.hpp"

namespace bettensor::fuzz {

namespace fs = std::filesystem;

inline crypto::hotkey fixed_hotkey(std::uint8_t seed) {
  std::array<std::uint8_t, 32> mini{};
  mini.fill(seed);
  const auto kp = crypto::keypair::from_mini_secret(mini);
  return {kp, crypto::ss58_encode(kp.public_key_bytes())};
}

struct validator_harness {
  crypto::hotkey validator = fixed_hotkey(1);
  crypto::hotkey miner = fixed_hotkey(2);        // registered, uid 7
  crypto::hotkey blacklisted = fixed_hotkey(3);  // registered and blacklisted, uid 8
  crypto::hotkey stranger = fixed_hotkey(4);     // not registered
  boost::asio::io_context ioc;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::optional<validator::validator_service> service;
  std::thread runner;
  fs::path dir;

  validator_harness() {
    spdlog::set_level(spdlog::level::off);  // a log line per input would dominate the run
    const fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string tmpl = (base / "bettensor-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir = tmpl;
    test::write_metagraph(
        dir / "metagraph.json",
        {test::validator_neuron(0, validator.ss58, 0, 1.0), test::miner_neuron(7, miner.ss58),
         test::miner_neuron(8, blacklisted.ss58)});
    std::ofstream(dir / "blacklist.txt") << blacklisted.ss58 << '\n';
    boost::json::array games;
    for (const auto& g : test::upcoming_games()) games.push_back(protocol::to_json(g));
    std::ofstream(dir / "games.json") << boost::json::serialize(games);
    std::ofstream(dir / "admin.token") << "fuzz-admin-token-0123456789\n";

    validator::validator_options o;
    o.server.listen = false;
    o.metagraph_file = dir / "metagraph.json";
    o.blacklist_file = dir / "blacklist.txt";
    o.games_file = dir / "games.json";
    o.admin_token_file = dir / "admin.token";
    o.db = storage::db_url::sqlite(dir / "validator.db");
    o.daily_wager_limit = 1e12;
    o.file_poll_interval = std::chrono::hours(1);
    work.emplace(ioc.get_executor());
    service.emplace(ioc, o, validator);
    service->start();
    runner = std::thread([this] { ioc.run(); });
  }

  validator_harness(const validator_harness&) = delete;
  validator_harness& operator=(const validator_harness&) = delete;
};

/// The one harness of the process (built on first use, never torn down: libFuzzer ends the
/// process from its own thread); its directory is removed at exit.
inline validator_harness& harness() {
  static auto* h = new validator_harness();  // never destroyed: its thread runs until exit
  static const bool cleanup = [] {
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(harness().dir, ec);
    });
    return true;
  }();
  (void)cleanup;
  return *h;
}

}  // namespace bettensor::fuzz
