// What a storage backend must do for the validator: the prediction ledger. The pipeline in
// validator_store decides verdicts (duplicate check, rules, daily limit) and groups commits; a
// backend only looks up and writes. Adding a backend is one class implementing this.
//
// A ledger is used by one thread at a time (the storage thread). The lookups made for a batch
// and its record() may share one transaction: record() writes the batch and commits atomically,
// discard() drops what the lookups opened when the batch is abandoned.
#pragma once

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bettensor/protocol/messages.hpp"
#include "bettensor/protocol/outcome.hpp"
#include "bettensor/protocol/timestamp.hpp"

namespace bettensor::storage {

struct verdict {
  std::optional<protocol::rejection> rejected;  // nullopt: accepted
  std::string message;                          // "" when accepted, else the text the miner is sent
  bool duplicate = false;  // the prediction_id was seen before: this is the original verdict
  /// The miner's row of the scoring database's miner_stats (bettensor backend), sent in the
  /// confirmation; nullopt when the backend has none.
  std::optional<boost::json::object> miner_stats{};

  [[nodiscard]] bool accepted() const { return !rejected; }
  /// A fresh refusal, with the rejection's text.
  static verdict refused(protocol::rejection r) { return {r, std::string(protocol::text(r))}; }
};

/// One decided prediction, as record() writes it. The hotkey and the prediction are the
/// request's own, not copies: they outlive the record() call.
struct ledger_entry {
  const std::string& hotkey;
  std::optional<std::int64_t> uid;  // the miner's uid in the metagraph, when the caller knows it
  const protocol::team_game_prediction& prediction;
  protocol::timestamp received;
  std::string utc_day;  // of `received`: the day its wager counts towards
  verdict decision;
};

/// Every method throws when the database fails (storage_unavailable when it may come back,
/// storage_conflict when another instance wrote first, else storage_error or the driver's
/// exception); a batch that throws is not stored at all.
class prediction_ledger {
 public:
  virtual ~prediction_ledger() = default;

  /// The stored verdict of `prediction_id` (with duplicate set), if there is one.
  virtual std::optional<verdict> find_verdict(const std::string& prediction_id) = 0;
  /// The accepted wagers of `hotkey` on `utc_day` ("2026-11-29").
  virtual double daily_total(const std::string& hotkey, const std::string& utc_day) = 0;
  /// Writes every entry (accepted ones add to their daily total) in one transaction.
  virtual void record(const std::vector<ledger_entry>& batch) = 0;
  /// Drops what lookups since the last record() opened (nothing is written).
  virtual void discard() noexcept = 0;

  /// Called before a batch's lookups with its distinct hotkeys, sorted. A database shared by
  /// several validator instances locks them until record() or discard(), so two instances never
  /// decide the same miner's daily limit at once; a private file does nothing.
  virtual void begin_batch(std::span<const std::string_view> hotkeys) { (void)hotkeys; }
  /// The scoring database's statistics of miner `uid`, when the backend has them.
  virtual std::optional<boost::json::object> miner_stats(std::int64_t uid) {
    (void)uid;
    return std::nullopt;
  }

  /// Replaces the stored game set in one transaction.
  virtual void replace_games(const std::vector<protocol::team_game>& games) = 0;
  virtual std::vector<protocol::team_game> load_games() = 0;
  /// The game set, when another program changed it in the database since the last call (the
  /// Python validator's game_data); nullopt when unchanged or when only we write the games.
  virtual std::optional<std::vector<protocol::team_game>> games_changed() { return std::nullopt; }

  /// Read-only counts for tests and health checks.
  virtual std::size_t accepted_count() = 0;
  virtual std::size_t prediction_rows(const std::string& prediction_id) = 0;
};

/// "2026-11-29": the UTC day of a time.
std::string utc_day(protocol::timestamp t);

}  // namespace bettensor::storage
