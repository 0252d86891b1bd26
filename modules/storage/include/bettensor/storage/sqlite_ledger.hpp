// A SQLite file (WAL, synchronous=FULL, busy timeout) as a prediction ledger: every verdict by
// prediction_id, each miner's accepted wagers per UTC day, and the game set. In one of two
// layouts: the channel's own file, or the Python Bettensor validator's database, where accepted
// predictions become rows of its `predictions` table and the games are read from its
// `game_data`, and what we need beyond its schema lives in tables of our own (`channel_*`).
#pragma once

#include <filesystem>
#include <memory>

#include "bettensor/storage/ledger.hpp"
#include "bettensor/storage/storage_error.hpp"

namespace bettensor::storage {

class sqlite_ledger final : public prediction_ledger {
 public:
  enum class layout {
    own,        // predictions, daily_wagers, games: the channel's file, created when missing
    bettensor,  // the neuron's file (must exist): its tables plus channel_verdicts & co.
  };

  /// Opens (or, for layout::own, creates) the database and checks it (quick_check, writable;
  /// for layout::bettensor, the predictions, game_data and miner_stats tables). Throws
  /// storage_error naming the file otherwise: it never silently starts empty.
  explicit sqlite_ledger(const std::filesystem::path& path, layout l = layout::own);
  ~sqlite_ledger() override;
  sqlite_ledger(const sqlite_ledger&) = delete;
  sqlite_ledger& operator=(const sqlite_ledger&) = delete;

  std::optional<verdict> find_verdict(const std::string& prediction_id) override;
  double daily_total(const std::string& hotkey, const std::string& utc_day) override;
  void record(const std::vector<ledger_entry>& batch) override;
  void discard() noexcept override;
  void begin_batch(std::span<const std::string_view> hotkeys) override;
  std::optional<boost::json::object> miner_stats(std::int64_t uid) override;
  void replace_games(const std::vector<protocol::team_game>& games) override;
  std::vector<protocol::team_game> load_games() override;
  std::optional<std::vector<protocol::team_game>> games_changed() override;
  std::size_t accepted_count() override;
  std::size_t prediction_rows(const std::string& prediction_id) override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace bettensor::storage
