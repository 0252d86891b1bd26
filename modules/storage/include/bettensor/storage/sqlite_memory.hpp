// SQLite's own memory, served from a pool that keeps what it frees. Debian's libsqlite3 is built
// without lookaside memory, so each commit makes about fourteen small allocations; from the pool,
// a commit after the first few reaches malloc no more.
#pragma once

#include <string>

namespace bettensor::storage {

/// Hands SQLite's allocations to the pool. Call once, first thing in main(), before any other
/// thread runs and before any database is opened: SQLite takes its allocator only before it
/// initialises. Returns an empty string, or why SQLite refused (it then keeps malloc, which is
/// correct, only slower).
std::string pool_sqlite_memory();

}  // namespace bettensor::storage
