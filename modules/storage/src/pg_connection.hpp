// A libpq connection with the failure taxonomy of storage_error.hpp: a lost connection or a
// server that cannot take one now is storage_unavailable, a serialisation failure, deadlock or
// unique violation is storage_conflict, anything else storage_error. Every message starts with
// the database's URL (password hidden).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bettensor/storage/db_url.hpp"
#include "bettensor/storage/storage_error.hpp"

namespace bettensor::storage::detail {

struct pg_result_free {
  void operator()(PGresult* r) const { PQclear(r); }
};
using pg_result = std::unique_ptr<PGresult, pg_result_free>;

class pg_connection {
 public:
  explicit pg_connection(db_url url, std::string application = "bettensor-validator");
  ~pg_connection();
  pg_connection(const pg_connection&) = delete;
  pg_connection& operator=(const pg_connection&) = delete;

  /// The live connection, connecting first when there is none or it was lost (storage_unavailable
  /// when that fails). `fresh` is set when this call connected.
  PGconn* ready(bool* fresh = nullptr);
  [[nodiscard]] bool connected() const;
  /// Counts successful connects: state kept per connection (prepared statements) is stale
  /// once it moves.
  [[nodiscard]] std::uint64_t generation() const { return generation_; }
  /// The connection as it is (null when there is none), without reconnecting.
  [[nodiscard]] PGconn* raw() const { return conn_; }
  void close() noexcept;

  /// Runs `sql` with text parameters (nullptr for NULL); throws on any failure.
  pg_result exec(const std::string& sql, const std::vector<const char*>& params = {});
  /// Runs a statement prepare()d on this connection.
  pg_result exec_prepared(const char* name, const std::vector<const char*>& params);
  void prepare(const char* name, const std::string& sql);

  /// Throws what a failed result (or a lost connection) means.
  [[noreturn]] void fail(const PGresult* r, std::string_view doing) const;
  [[nodiscard]] const std::string& where() const { return where_; }

 private:
  pg_result check(pg_result r, std::string_view doing);

  db_url url_;
  std::string application_;
  std::string where_;
  PGconn* conn_ = nullptr;
  std::uint64_t generation_ = 0;
};

/// A double as PostgreSQL reads it back exactly (shortest round-trip text).
std::string pg_number(double v);
/// A text[] literal of `items`.
std::string pg_text_array(std::span<const std::string_view> items);

}  // namespace bettensor::storage::detail
