// Opening a project database: the same checks for the validator's and the miner's file.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>
#include <string_view>

namespace bettensor::storage::detail {

/// Whose file it is: ours is created when missing and versioned in its header (user_version);
/// theirs (the Python validator's) must exist, and its header is left alone.
enum class ownership { ours, theirs };

/// Opens or creates `path`, checks it (quick_check, writable, schema not newer than
/// `schema_version`), sets WAL + synchronous=FULL and applies `schema`. Throws storage_error
/// naming the file; never starts on an unusable file.
SQLite::Database open_database(const std::filesystem::path& path, std::string_view schema,
                               int schema_version, ownership owner = ownership::ours);

}  // namespace bettensor::storage::detail
