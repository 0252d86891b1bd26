#include "bettensor/storage/sqlite_memory.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory_resource>
#include <new>

namespace bettensor::storage {
namespace {

// Each block starts with its size: SQLite asks a block's size back (xSize) and the pool needs it
// to take the block back. 16 bytes keep the block that SQLite sees aligned like malloc's.
constexpr std::size_t header = 16;
constexpr std::size_t alignment = 16;

std::pmr::synchronized_pool_resource& pool() {
  // Never destroyed: SQLite may free a block while the process exits.
  static auto* const p =
      new std::pmr::synchronized_pool_resource(  // NOLINT(cppcoreguidelines-owning-memory)
          std::pmr::pool_options{.max_blocks_per_chunk = 0,
                                 .largest_required_pool_block = std::size_t{64} * 1024});
  return *p;
}

std::size_t stored_size(void* p) {
  std::size_t size = 0;
  std::memcpy(&size, static_cast<std::byte*>(p) - header, sizeof size);
  return size;
}

void* x_malloc(int n) {
  if (n <= 0) return nullptr;
  const std::size_t size = static_cast<std::size_t>(n) + header;
  try {
    auto* block = static_cast<std::byte*>(pool().allocate(size, alignment));
    std::memcpy(block, &size, sizeof size);
    return block + header;
  } catch (const std::bad_alloc&) {
    return nullptr;  // SQLite answers SQLITE_NOMEM
  }
}

void x_free(void* p) {
  if (p == nullptr) return;
  pool().deallocate(static_cast<std::byte*>(p) - header, stored_size(p), alignment);
}

int x_size(void* p) {
  return p == nullptr ? 0 : static_cast<int>(stored_size(p) - header);
}

void* x_realloc(void* p, int n) {
  if (p == nullptr) return x_malloc(n);
  void* moved = x_malloc(n);
  if (moved == nullptr) return nullptr;  // SQLite keeps the old block
  std::memcpy(moved, p, std::min(static_cast<std::size_t>(n), stored_size(p) - header));
  x_free(p);
  return moved;
}

int x_roundup(int n) {
  return (n + 7) & ~7;
}

int x_init(void* /*unused*/) {
  return SQLITE_OK;
}

void x_shutdown(void* /*unused*/) {}

}  // namespace

std::string pool_sqlite_memory() {
  static const sqlite3_mem_methods methods{x_malloc,  x_free, x_realloc,  x_size,
                                           x_roundup, x_init, x_shutdown, nullptr};
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg): SQLite's configuration is variadic
  const int rc = sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
  if (rc == SQLITE_OK) return {};
  if (rc == SQLITE_MISUSE)
    return "SQLite kept its own allocator: it was in use before the pool was offered";
  return std::string("SQLite kept its own allocator: ") + sqlite3_errstr(rc);
}

}  // namespace bettensor::storage
