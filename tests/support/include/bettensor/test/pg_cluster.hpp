// A throwaway PostgreSQL cluster for tests: initdb and pg_ctl from Debian's postgresql package
// in a temporary directory, listening on a Unix socket in that directory only (no TCP port to
// collide on), run as an unprivileged user when the tests run as root (PostgreSQL refuses
// root). Trust authentication for the one role, "bettensor". Removed on destruction.
#pragma once

#include <filesystem>
#include <string>

namespace bettensor::test {

class pg_cluster {
 public:
  /// Creates and starts the cluster; throws std::runtime_error with initdb's or pg_ctl's output
  /// when that fails (PostgreSQL missing: install the `postgresql` package). Tests run it with
  /// fsync off (a killed server still loses nothing; only the machine's crash would); `durable`
  /// keeps PostgreSQL's fsync on, for benchmarks that compare it with SQLite's.
  explicit pg_cluster(bool durable = false);
  ~pg_cluster();
  pg_cluster(const pg_cluster&) = delete;
  pg_cluster& operator=(const pg_cluster&) = delete;

  /// A libpq URL of database `db` ("postgres" exists from the start).
  [[nodiscard]] std::string url(const std::string& db = "postgres") const;
  /// Creates a database and returns its URL.
  std::string create_database(const std::string& name);
  /// Runs SQL through psql on `db`; returns psql's output (unaligned, tuples only). Throws when
  /// psql fails.
  std::string psql(const std::string& sql, const std::string& db = "postgres");

  /// pg_ctl stop -m fast (clients are disconnected) and start -w again.
  void stop();
  void start();

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

 private:
  std::string run(const std::string& command, bool as_owner = true) const;

  std::filesystem::path bin_;
  std::filesystem::path dir_;
  bool durable_ = false;
  bool running_ = false;
};

}  // namespace bettensor::test
