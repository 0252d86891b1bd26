// A PostgreSQL database as a prediction ledger, through libpq, shareable by several validator
// instances: each batch locks its miners' hotkeys (transaction-scoped advisory locks, taken in
// one order) before deciding, so a daily limit holds across instances; a prediction id another
// instance stored first is a conflict the pipeline decides again. The schema (channel_* tables)
// is created or migrated at start, under a lock. A lost connection is storage_unavailable: the
// next call reconnects.
#pragma once

#include <memory>

#include "bettensor/storage/db_url.hpp"
#include "bettensor/storage/ledger.hpp"
#include "bettensor/storage/storage_error.hpp"

namespace bettensor::storage {

/// The channel a committed game set is announced on (NOTIFY), with its fingerprint as payload.
inline constexpr const char* games_channel = "bettensor_games";

class postgres_ledger final : public prediction_ledger {
 public:
  /// Connects and creates or migrates the schema. Throws storage_unavailable when the server
  /// cannot be reached, storage_error when it refuses (or holds a newer schema).
  explicit postgres_ledger(const db_url& url);
  ~postgres_ledger() override;
  postgres_ledger(const postgres_ledger&) = delete;
  postgres_ledger& operator=(const postgres_ledger&) = delete;

  std::optional<verdict> find_verdict(const std::string& prediction_id) override;
  double daily_total(const std::string& hotkey, const std::string& utc_day) override;
  void record(const std::vector<ledger_entry>& batch) override;
  void discard() noexcept override;
  void begin_batch(std::span<const std::string_view> hotkeys) override;
  void replace_games(const std::vector<protocol::team_game>& games) override;
  std::vector<protocol::team_game> load_games() override;
  std::size_t accepted_count() override;
  std::size_t prediction_rows(const std::string& prediction_id) override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace bettensor::storage
