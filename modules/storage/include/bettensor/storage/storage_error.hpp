// The errors a store throws: a database that cannot be used (corrupt, not a database,
// unwritable, full), one that is unavailable for now (connection lost, locked by another
// process), and a batch another writer got in before (decided again).
#pragma once

#include <stdexcept>

namespace bettensor::storage {

/// The validator's store throws it at start only; the miner's on any SQLite failure, which the
/// miner survives and retries. The message names the file or the database.
class storage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The database is there but cannot be reached or locked right now (a lost PostgreSQL
/// connection, SQLite's `database is locked` after the busy timeout). The pipeline keeps the
/// batch's verdicts waiting and tries again with backoff.
class storage_unavailable : public storage_error {
 public:
  using storage_error::storage_error;
};

/// Another instance sharing the database wrote one of the batch's prediction ids first. The
/// pipeline decides the batch again at once: the id then has its original verdict.
class storage_conflict : public storage_error {
 public:
  using storage_error::storage_error;
};

}  // namespace bettensor::storage
