// SQLite on the pool: the allocator it is handed keeps each block's size and contents, and the
// store runs on it across a restart. An executable of its own, because SQLite takes an allocator
// only before its first use in the process.
#include "bettensor/storage/sqlite_memory.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>

#include "bettensor/storage/validator_store.hpp"

namespace bettensor::storage {
namespace {

namespace fs = std::filesystem;

bool filled(const void* p, std::size_t n, unsigned char value) {
  const auto* bytes = static_cast<const unsigned char*>(p);
  return std::all_of(bytes, bytes + n, [value](unsigned char b) { return b == value; });
}

void check_blocks(const sqlite3_mem_methods& m, int small, int large) {
  void* p = m.xMalloc(m.xRoundup(small));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 8, 0U);  // SQLite's requirement
  EXPECT_GE(m.xSize(p), small);
  std::memset(p, 0xAB, static_cast<std::size_t>(small));
  void* grown = m.xRealloc(p, m.xRoundup(large));
  ASSERT_NE(grown, nullptr);
  EXPECT_GE(m.xSize(grown), large);
  EXPECT_TRUE(filled(grown, static_cast<std::size_t>(small), 0xAB));
  void* shrunk = m.xRealloc(grown, 8);
  ASSERT_NE(shrunk, nullptr);
  EXPECT_EQ(m.xSize(shrunk), 8);
  EXPECT_TRUE(filled(shrunk, 8, 0xAB));
  m.xFree(shrunk);
  m.xFree(nullptr);  // as free(NULL)
}

verdict decide(validator_store& s, const std::string& id) {
  std::promise<verdict> done;
  auto got = done.get_future();
  s.submit("alice", {.prediction_id = id, .game_id = "g-1", .miner_uid = "7", .wager = 1.0},
           protocol::now_utc(), {}, [&](verdict v) { done.set_value(std::move(v)); });
  return got.get();
}

TEST(SqliteMemoryTest, SqliteRunsOnThePoolFromItsFirstUse) {
  ASSERT_EQ(pool_sqlite_memory(), "");
  sqlite3_mem_methods m{};
  ASSERT_EQ(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &m), SQLITE_OK);  // NOLINT: variadic C API
  check_blocks(m, 100, 5000);
  check_blocks(m, 3000, 1 << 20);  // beyond the pool's largest block: straight from malloc

  std::string tmpl = (fs::temp_directory_path() / "bettensor-sqlite-memory-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const fs::path dir = tmpl;
  validator_store::options o;
  o.url = db_url::sqlite(dir / "validator.db");
  o.daily_wager_limit = 1000.0;
  {
    validator_store s(o);
    for (int i = 0; i < 50; ++i) {
      std::string id("p");  // appended: GCC 12 -O3 reports a false -Wrestrict on "p" + ...
      id += std::to_string(i);
      EXPECT_TRUE(decide(s, id).accepted());
    }
    EXPECT_GT(sqlite3_memory_used(), 0);  // counted through xSize
  }
  {
    validator_store s(o);
    EXPECT_EQ(s.accepted_count(), 50U);
    EXPECT_TRUE(decide(s, "p7").duplicate);
  }
  fs::remove_all(dir);

  // SQLite is initialised by now: too late for another allocator, and said so.
  EXPECT_EQ(pool_sqlite_memory(),
            "SQLite kept its own allocator: it was in use before the pool was offered");
}

}  // namespace
}  // namespace bettensor::storage
