// The channel's own SQLite database (WAL, synchronous=FULL) as a prediction ledger: every
// verdict by prediction_id, each miner's accepted wagers per UTC day, and the game set.
#pragma once

#include <filesystem>
#include <memory>

#include "bettensor/storage/ledger.hpp"
#include "bettensor/storage/storage_error.hpp"

namespace bettensor::storage {

class sqlite_ledger final : public prediction_ledger {
 public:
  /// Opens or creates the database and checks it (quick_check, writable). Throws storage_error
  /// naming the file otherwise: it never silently starts empty.
  explicit sqlite_ledger(const std::filesystem::path& path);
  ~sqlite_ledger() override;
  sqlite_ledger(const sqlite_ledger&) = delete;
  sqlite_ledger& operator=(const sqlite_ledger&) = delete;

  std::optional<verdict> find_verdict(const std::string& prediction_id) override;
  double daily_total(const std::string& hotkey, const std::string& utc_day) override;
  void record(const std::vector<ledger_entry>& batch) override;
  void discard() noexcept override;
  void replace_games(const std::vector<protocol::team_game>& games) override;
  std::vector<protocol::team_game> load_games() override;
  std::size_t accepted_count() override;
  std::size_t prediction_rows(const std::string& prediction_id) override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace bettensor::storage
