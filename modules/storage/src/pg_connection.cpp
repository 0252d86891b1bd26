#include "pg_connection.hpp"

#include <charconv>
#include <cstring>

namespace bettensor::storage::detail {

namespace {

std::string trimmed(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  // libpq's messages may span lines ("...\nDETAIL: ..."): one log line.
  for (auto& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

bool starts_with(const char* s, std::string_view prefix) {
  return s != nullptr && std::string_view(s).starts_with(prefix);
}

}  // namespace

pg_connection::pg_connection(db_url url, std::string application)
    : url_(std::move(url)),
      application_(std::move(application)),
      where_("database " + to_string(url_) + ": ") {}

pg_connection::~pg_connection() {
  close();
}

void pg_connection::close() noexcept {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

bool pg_connection::connected() const {
  return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

PGconn* pg_connection::ready(bool* fresh) {
  if (fresh != nullptr) *fresh = false;
  if (connected()) return conn_;
  close();
  // The URL's own settings win over these defaults: libpq takes the last value of a keyword,
  // and the expanded URL comes after them.
  const char* const keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* const values[] = {"5", application_.c_str(), url_.conninfo.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    std::string why = conn_ != nullptr ? trimmed(PQerrorMessage(conn_)) : "out of memory";
    close();
    throw storage_unavailable(where_ + "cannot connect: " + why);
  }
  // The server's notices (and libpq's own, such as a server shutting down) reach the caller
  // as errors when they matter; they are not printed behind its back.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
  pg_result quiet(PQexec(conn_, "SET client_min_messages = warning"));
  ++generation_;
  if (fresh != nullptr) *fresh = true;
  return conn_;
}

void pg_connection::fail(const PGresult* r, std::string_view doing) const {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string why = r != nullptr ? trimmed(PQresultErrorMessage(r)) : std::string();
  if (why.empty() && conn_ != nullptr) why = trimmed(PQerrorMessage(conn_));
  std::string message = where_;
  message.append(doing).append(": ").append(why);
  if (!connected() || starts_with(state, "08") || starts_with(state, "57P")) {
    throw storage_unavailable(message);
  }
  if (starts_with(state, "40001") || starts_with(state, "40P01") || starts_with(state, "23505")) {
    throw storage_conflict(message);
  }
  throw storage_error(message);
}

pg_result pg_connection::check(pg_result r, std::string_view doing) {
  const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(r.get(), doing);
  return r;
}

pg_result pg_connection::exec(const std::string& sql, const std::vector<const char*>& params) {
  PGconn* c = ready();
  const std::string doing = sql.substr(0, sql.find_first_of(" \n"));
  // Without parameters a script may hold several statements (the schema), which only PQexec
  // runs.
  if (params.empty()) return check(pg_result(PQexec(c, sql.c_str())), doing);
  return check(pg_result(PQexecParams(c, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                      params.data(), nullptr, nullptr, 0)),
               doing);
}

pg_result pg_connection::exec_prepared(const char* name, const std::vector<const char*>& params) {
  if (!connected()) throw storage_unavailable(where_ + "connection lost");
  return check(pg_result(PQexecPrepared(conn_, name, static_cast<int>(params.size()), params.data(),
                                        nullptr, nullptr, 0)),
               name);
}

void pg_connection::prepare(const char* name, const std::string& sql) {
  PGconn* c = ready();
  check(pg_result(PQprepare(c, name, sql.c_str(), 0, nullptr)), name);
}

std::string pg_number(double v) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return {buf, ec == std::errc() ? end : buf};
}

std::string pg_text_array(std::span<const std::string_view> items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += ',';
    out += '"';
    for (const char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace bettensor::storage::detail
