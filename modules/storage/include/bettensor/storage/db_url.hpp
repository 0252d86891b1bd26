// Where the validator keeps its ledger (--db.url): its own SQLite file, the Python validator's
// SQLite file, or a PostgreSQL database shared by several instances.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "bettensor/storage/ledger.hpp"

namespace bettensor::storage {

struct db_url {
  enum class backend { sqlite, bettensor, postgresql };
  backend kind = backend::sqlite;
  std::filesystem::path path = "validator.db";  // sqlite and bettensor
  std::string conninfo;                         // postgresql: the URL as libpq takes it

  /// sqlite:/// at `p`.
  static db_url sqlite(std::filesystem::path p) { return {backend::sqlite, std::move(p), {}}; }
};

/// Parses "sqlite:///path", "bettensor:///path/to/validator.db" or "postgresql://…" (also
/// "postgres://…"). "sqlite:///relative.db" and "sqlite:////abs/olute.db" follow SQLAlchemy:
/// three slashes, then the path. Throws std::invalid_argument with a one-line reason.
db_url parse_db_url(std::string_view text);

/// The URL as it may be logged: a PostgreSQL password is replaced by "***".
std::string to_string(const db_url& url);

/// "sqlite", "bettensor", "postgresql": the backend label of metrics and logs.
std::string_view label(db_url::backend b);

/// Opens the backend: creates or migrates its schema and checks it. Throws storage_error (or
/// storage_unavailable for a database that cannot be reached) naming the database.
std::unique_ptr<prediction_ledger> open_ledger(const db_url& url);

}  // namespace bettensor::storage
