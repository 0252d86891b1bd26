// The validator: who may connect (metagraph, blacklist), the games, the prediction pipeline, and
// the HTTP endpoints, wired onto the transport server and the store (db_url.hpp). With a
// PostgreSQL database, instances sharing it act as one: game sets and connections are announced
// to each other over LISTEN/NOTIFY.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "bettensor/chain/metagraph_sync.hpp"
#include "bettensor/crypto/wallet.hpp"
#include "bettensor/metrics/metrics.hpp"
#include "bettensor/storage/db_url.hpp"
#include "bettensor/transport/server.hpp"

namespace boost::asio {
class io_context;
}

namespace bettensor::validator {

/// A problem with a file or setting found at start (exit code 2).
class startup_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct validator_options {
  transport::server_config server;
  /// Who may connect: the metagraph file (re-read when it changes), or the chain when `chain`
  /// is set (the file is then unused).
  std::filesystem::path metagraph_file;
  std::optional<chain::sync_config> chain;
  std::optional<std::filesystem::path> blacklist_file;
  std::optional<std::filesystem::path> games_file;
  std::optional<std::filesystem::path> admin_token_file;
  bool admin_allow_remote = false;
  /// Where verdicts and games are kept (--db.url; --db.path is the SQLite shorthand).
  storage::db_url db = storage::db_url::sqlite("validator.db");
  std::string db_flag = "--db.path";  // the flag that named it, for start-up errors
  /// How long verdicts wait for an unavailable database before the storage failure text.
  std::chrono::milliseconds db_retry_for{30000};
  double daily_wager_limit = 1000.0;
  std::chrono::milliseconds file_poll_interval{1000};  // how often watched files are checked
  /// The process's metrics registry (served at GET /metrics); a private one when null.
  std::shared_ptr<metrics::registry> metrics;
};

class validator_service {
 public:
  /// Reads the files and opens the database; throws startup_error naming what is wrong.
  validator_service(boost::asio::io_context& ioc, validator_options opts, crypto::hotkey identity);
  ~validator_service();
  validator_service(const validator_service&) = delete;
  validator_service& operator=(const validator_service&) = delete;

  void start();
  /// Graceful: closes every connection (1001), flushes storage, then calls `done`.
  void stop(std::function<void()> done);
  /// Re-reads the metagraph, blacklist and games files now (SIGHUP).
  void reload();

  [[nodiscard]] std::uint16_t port() const;

  /// The paths a connection takes through the validator, callable without a socket (with
  /// server.listen = false the fuzz targets drive them): the handshake decision for a verified
  /// auth message, a verified envelope from an authenticated miner (answers go to `peer`), and
  /// an HTTP request other than GET /ws/health.
  transport::auth_decision authorize(const protocol::authenticated_peer& peer) const;
  void deliver(const std::shared_ptr<transport::peer_connection>& peer, protocol::envelope e);
  void http(const transport::http_request& req,
            std::function<void(transport::http_response)> reply);
  /// Every open connection (for the admin API).
  [[nodiscard]] std::vector<transport::session_info> sessions() const;
  /// The registry GET /metrics renders (the one given in the options, or the service's own).
  [[nodiscard]] metrics::registry& metrics() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace bettensor::validator
