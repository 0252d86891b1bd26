// The Python Bettensor validator's own tables in its SQLite file: its game_data and miner_stats
// read as its communication manager reads them, and an accepted prediction written as its row
// of `predictions`, in the reference's types. What its cells hold is not ours to trust.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <boost/json/object.hpp>
#include <cstdint>
#include <vector>

#include "bettensor/protocol/messages.hpp"
#include "bettensor/storage/ledger.hpp"

namespace bettensor::storage::detail {

/// Binds the 14 parameters of the INSERT into `predictions` (sqlite_ledger's theirs_insert).
void bind_prediction_row(SQLite::Statement& q, const ledger_entry& e);

/// Every unfinished game of game_data; a row whose odds are not numbers is skipped, logged and
/// counted in `skipped`.
std::vector<protocol::team_game> read_game_data(SQLite::Database& db, std::size_t& skipped);

/// The miner's miner_stats row, each cell as the reference's confirmation sends it ({} without
/// a row).
boost::json::object read_miner_stats(SQLite::Database& db, std::int64_t uid);

}  // namespace bettensor::storage::detail
