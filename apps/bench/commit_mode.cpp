// --mode=commit: what the disk alone allows the latency mode. Bare SQLite commits, set up as the
// validator's file (WAL, synchronous=FULL, one prediction-sized row per transaction, BEGIN
// IMMEDIATE), offered at --rate for --duration in --db_dir, with no channel around them: every
// prediction the validator confirms waits for at least one such commit, and every prediction
// that arrives during a slow one waits for it.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common.hpp"

namespace bettensor::bench {

namespace {

// A connection and its statements, closed whatever way the run ends.
class commit_loop {
 public:
  explicit commit_loop(const fs::path& file) {
    if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) fail("open " + file.string());
    exec("PRAGMA journal_mode = WAL");
    exec("PRAGMA synchronous = FULL");
    exec("CREATE TABLE rows (id TEXT PRIMARY KEY, data TEXT NOT NULL)");
    prepare(begin_, "BEGIN IMMEDIATE");
    prepare(insert_, "INSERT INTO rows (id, data) VALUES (?, ?)");
    prepare(commit_, "COMMIT");
  }
  ~commit_loop() {
    for (auto* q : {begin_, insert_, commit_}) sqlite3_finalize(q);
    sqlite3_close(db_);
  }
  commit_loop(const commit_loop&) = delete;
  commit_loop& operator=(const commit_loop&) = delete;

  // One transaction holding one row.
  void commit(const std::string& id, const std::string& data) {
    step(begin_);
    sqlite3_bind_text(insert_, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert_, 2, data.data(), static_cast<int>(data.size()), SQLITE_STATIC);
    step(insert_);
    step(commit_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("commit mode: " + what + ": " + sqlite3_errmsg(db_));
  }
  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
  }
  void prepare(sqlite3_stmt*& q, const char* sql) {
    if (sqlite3_prepare_v2(db_, sql, -1, &q, nullptr) != SQLITE_OK) fail(sql);
  }
  void step(sqlite3_stmt* q) {
    const int rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc != SQLITE_DONE) fail(sqlite3_sql(q));
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
};

}  // namespace

int run_commit(const settings& s) {
  const fs::path dir = s.db_dir ? *s.db_dir : fs::temp_directory_path();
  std::string tmpl = (dir / "bettensor-bench-commit-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp in " + dir.string());
  const fs::path folder = tmpl;
  std::vector<double> took;  // seconds per commit
  {
    commit_loop loop(folder / "commit.db");
    // A stored prediction's size in the validator's file (the canonical text and its columns).
    const std::string data(700, 'x');
    const auto count = std::max<std::size_t>(1, static_cast<std::size_t>(s.rate * s.duration));
    took.reserve(count);
    const auto start = steady::now();
    for (std::size_t i = 0; i < count; ++i) {
      std::this_thread::sleep_until(
          start + std::chrono::duration_cast<steady::duration>(
                      std::chrono::duration<double>(static_cast<double>(i) / s.rate)));
      const auto t0 = steady::now();
      loop.commit(std::to_string(i), data);
      took.push_back(std::chrono::duration<double>(steady::now() - t0).count());
    }
  }
  std::error_code ec;
  fs::remove_all(folder, ec);

  std::sort(took.begin(), took.end());
  std::printf(
      "\ncommit: %.0f bare SQLite commits/s offered for %.1f s in %s (method: one 700-byte row "
      "per\ntransaction, WAL, synchronous=FULL, as the validator's file, no channel; time of each "
      "commit)\n",
      s.rate, s.duration, dir.c_str());
  row("commits", std::to_string(took.size()));
  percentile_rows(took);
  boost::json::object result{
      {"mode", "commit"}, {"rate", s.rate}, {"seconds", s.duration}, {"commits", took.size()}};
  add_percentiles(result, took);
  write_json(s, result);
  return 0;
}

}  // namespace bettensor::bench
