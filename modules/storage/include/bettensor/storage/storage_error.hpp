// The one error both stores throw: a database that cannot be used (corrupt, not a database,
// unwritable, full), with a message naming the file.
#pragma once

#include <stdexcept>

namespace bettensor::storage {

/// The validator's store throws it at start only; the miner's on any SQLite failure, which the
/// miner survives and retries.
class storage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace bettensor::storage
