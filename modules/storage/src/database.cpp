#include "database.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "bettensor/storage/storage_error.hpp"

namespace bettensor::storage::detail {

SQLite::Database open_database(const std::filesystem::path& path, std::string_view schema,
                               int schema_version, ownership owner) {
  const std::string where = "database " + path.string() + ": ";
  std::error_code missing;
  if (owner == ownership::theirs && !std::filesystem::is_regular_file(path, missing)) {
    throw storage_error(where +
                        "no such file (the Bettensor validator creates it; start the "
                        "neuron once, or give its --db path)");
  }
  // SQLite needs to write the file and create its -wal and -shm files beside it; say so plainly
  // instead of SQLite's "unable to open database file".
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  for (const auto& p : {path, dir}) {
    std::error_code ec;
    if (std::filesystem::exists(p, ec) && ::access(p.c_str(), W_OK) != 0) {
      const int err = errno;
      std::string message = where;
      message.append("is read-only (").append(p.string()).append(": ");
      message.append(std::strerror(err)).append(")");
      throw storage_error(message);
    }
  }
  try {
    // Each connection is used by one thread at a time (a store's own storage thread), so
    // SQLite's per-call locking of the connection is left out (multi-thread mode).
    const int flags = (owner == ownership::ours ? SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE
                                                : SQLite::OPEN_READWRITE) |
                      SQLite::OPEN_NOMUTEX;
    SQLite::Database d(path.string(), flags);
    d.setBusyTimeout(5000);
    const std::string check = d.execAndGet("PRAGMA quick_check").getString();
    if (check != "ok") throw storage_error(where + "integrity check failed (" + check + ")");
    if (sqlite3_db_readonly(d.getHandle(), "main") != 0)
      throw storage_error(where + "is read-only");
    d.exec("PRAGMA journal_mode = WAL");
    d.exec("PRAGMA synchronous = FULL");
    if (owner == ownership::theirs) {
      // Another program's file: its header (user_version) is not ours to set.
      d.exec(std::string(schema));
      return d;
    }
    const int version = d.execAndGet("PRAGMA user_version").getInt();
    if (version > schema_version) {
      throw storage_error(where + "was written by a newer version (schema " +
                          std::to_string(version) + ")");
    }
    d.exec(std::string(schema));
    d.exec("PRAGMA user_version = " + std::to_string(schema_version));
    return d;
  } catch (const storage_error&) {
    throw;
  } catch (const std::exception& e) {
    throw storage_error(where + e.what() + "; refusing to start without it");
  }
}

}  // namespace bettensor::storage::detail
