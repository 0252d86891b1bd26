// The validator's durable state in SQLite (WAL): games, every prediction verdict (unique
// prediction_id), and each miner's accepted wagers per UTC day.
//
// Predictions are decided and committed on one storage thread, in groups: every request waiting
// when a batch starts is decided and written in one transaction, and no verdict is delivered
// before its transaction has committed. So a success confirmation never leaves for a prediction
// that is not on disk, and durability costs one fsync per batch, not per prediction.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bettensor/protocol/messages.hpp"
#include "bettensor/protocol/outcome.hpp"
#include "bettensor/protocol/timestamp.hpp"
#include "bettensor/storage/storage_error.hpp"

namespace bettensor::storage {

struct verdict {
  std::optional<protocol::rejection> rejected;  // nullopt: accepted
  std::string message;                          // "" when accepted, else the text the miner is sent
  bool duplicate = false;  // the prediction_id was seen before: this is the original verdict

  [[nodiscard]] bool accepted() const { return !rejected; }
  /// A fresh refusal, with the rejection's text.
  static verdict refused(protocol::rejection r) { return {r, std::string(protocol::text(r))}; }
};

/// The stateless rules, run on the storage thread after the duplicate check and before the daily
/// limit. Returns the rule broken, or nullopt to accept.
using prediction_rules =
    std::function<std::optional<protocol::rejection>(const protocol::team_game_prediction&)>;

class validator_store {
 public:
  struct options {
    std::filesystem::path path;
    double daily_wager_limit = 1000.0;
    std::size_t max_batch = 512;
  };
  /// Called on the storage thread after each committed batch: its size and the seconds spent
  /// deciding and committing it.
  using commit_observer = std::function<void(std::size_t, double)>;

  /// Opens or creates the database and checks it (quick_check, writable). Throws storage_error
  /// with a message naming the file otherwise: it never silently starts empty.
  explicit validator_store(options opts, commit_observer on_commit = {});
  /// Finishes every submitted prediction, then closes the database.
  ~validator_store();
  validator_store(const validator_store&) = delete;
  validator_store& operator=(const validator_store&) = delete;

  /// Decides and stores one prediction. `done` runs on the storage thread once the verdict is
  /// durable (post it to your own executor).
  void submit(std::string hotkey, protocol::team_game_prediction prediction,
              protocol::timestamp received, prediction_rules rules,
              std::function<void(verdict)> done);

  /// Blocks until everything submitted so far is decided and committed.
  void flush();

  /// Replaces the stored game set (synchronously, in one transaction).
  void save_games(const std::vector<protocol::team_game>& games);
  [[nodiscard]] std::vector<protocol::team_game> load_games();

  // Read-only queries (tests, health).
  [[nodiscard]] std::size_t accepted_count();
  [[nodiscard]] std::size_t prediction_rows(const std::string& prediction_id);
  [[nodiscard]] double daily_total(const std::string& hotkey, protocol::timestamp day);
  [[nodiscard]] std::size_t batches_committed() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// "2026-11-29": the UTC day of a time.
std::string utc_day(protocol::timestamp t);

}  // namespace bettensor::storage
