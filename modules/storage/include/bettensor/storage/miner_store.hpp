// The miner's durable state in SQLite: the games it was sent (latest last_update_date wins) and
// its outbox. A prediction is stored before it is sent; for each validator it stays pending
// until that validator has answered it, and the answer (success or error) is final. So a miner
// killed at any moment re-sends exactly what is unanswered, and the validator's idempotency
// keeps a re-send from counting twice.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bettensor/protocol/messages.hpp"
#include "bettensor/storage/storage_error.hpp"

namespace bettensor::storage {

/// Every method throws storage_error naming the file when SQLite fails (disk full, read-only
/// file, I/O error); nothing is half-written, so the caller may retry the same call later.
/// One prediction of the outbox with the answers recorded for it (for the miner's page).
struct outbox_entry {
  struct answer {
    std::string validator;
    bool accepted = false;
    std::string message;
  };
  protocol::team_game_prediction prediction;
  std::vector<answer> answers;  // by validator hotkey
};

class miner_store {
 public:
  /// Opens or creates the database; throws storage_error naming the file if it is unusable.
  explicit miner_store(const std::filesystem::path& path);
  ~miner_store();
  miner_store(const miner_store&) = delete;
  miner_store& operator=(const miner_store&) = delete;

  /// Stores a game unless a version with a later (or equal) last_update_date is stored. Returns
  /// whether it was stored. A game whose last_update_date is not a timestamp is refused.
  bool upsert_game(const protocol::team_game& game);
  [[nodiscard]] std::optional<protocol::team_game> game(const std::string& game_id);
  [[nodiscard]] std::vector<protocol::team_game> games();

  /// Durably stores a new prediction (committed when this returns). False if its
  /// prediction_id is already in the outbox (nothing changes).
  bool add_prediction(const protocol::team_game_prediction& p);
  [[nodiscard]] bool has_prediction_for_game(const std::string& game_id);
  /// Predictions in the outbox (answered or not).
  [[nodiscard]] std::size_t prediction_count();

  /// Predictions `validator` (its SS58 hotkey) has not answered, oldest first.
  [[nodiscard]] std::vector<protocol::team_game_prediction> pending_for(
      const std::string& validator);
  /// Records a validator's final answer; later answers for the same pair are ignored.
  void record_answer(const std::string& validator, const std::string& prediction_id, bool accepted,
                     const std::string& message);
  /// The newest `limit` predictions, newest first, with their answers.
  [[nodiscard]] std::vector<outbox_entry> recent_predictions(std::size_t limit);
  /// The recorded answer, if any: (accepted, message).
  [[nodiscard]] std::optional<std::pair<bool, std::string>> answer(
      const std::string& validator, const std::string& prediction_id);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace bettensor::storage
