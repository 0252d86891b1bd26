#include "bettensor/storage/db_url.hpp"

#include <libpq-fe.h>

#include <stdexcept>

#include "bettensor/storage/postgres_ledger.hpp"
#include "bettensor/storage/sqlite_ledger.hpp"

namespace bettensor::storage {

namespace {

constexpr std::string_view usage =
    "expected sqlite:///path/to/validator.db, bettensor:///path/to/the/neuron's/validator.db or "
    "postgresql://user:password@host:port/database";

std::filesystem::path file_of(std::string_view text, std::string_view scheme) {
  const std::string_view rest = text.substr(scheme.size());
  if (rest.empty() || rest.back() == '/') {
    throw std::invalid_argument("'" + std::string(text) + "' names no file; " + std::string(usage));
  }
  return std::filesystem::path(std::string(rest));
}

}  // namespace

db_url parse_db_url(std::string_view text) {
  constexpr std::string_view sqlite_scheme = "sqlite:///";
  constexpr std::string_view bettensor_scheme = "bettensor:///";
  if (text.starts_with(sqlite_scheme))
    return {db_url::backend::sqlite, file_of(text, sqlite_scheme), {}};
  if (text.starts_with(bettensor_scheme))
    return {db_url::backend::bettensor, file_of(text, bettensor_scheme), {}};
  if (text.starts_with("postgresql://") || text.starts_with("postgres://")) {
    const std::string conninfo(text);
    char* error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &error);
    if (parsed == nullptr) {
      std::string why = error != nullptr ? error : "out of memory";
      PQfreemem(error);
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      throw std::invalid_argument("'" + to_string({db_url::backend::postgresql, {}, conninfo}) +
                                  "' is not a PostgreSQL URL: " + why);
    }
    PQconninfoFree(parsed);
    return {db_url::backend::postgresql, {}, conninfo};
  }
  throw std::invalid_argument("'" + std::string(text) + "' has an unknown scheme; " +
                              std::string(usage));
}

std::string to_string(const db_url& url) {
  switch (url.kind) {
    case db_url::backend::sqlite:
      return "sqlite:///" + url.path.string();
    case db_url::backend::bettensor:
      return "bettensor:///" + url.path.string();
    case db_url::backend::postgresql:
      break;
  }
  // postgresql://user:secret@host/db?password=secret → the secrets as ***.
  std::string out = url.conninfo;
  if (const auto scheme = out.find("://"); scheme != std::string::npos) {
    const auto at = out.find('@', scheme + 3);
    const auto slash = out.find('/', scheme + 3);
    const auto colon = out.find(':', scheme + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash) &&
        colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  if (const auto p = out.find("password="); p != std::string::npos) {
    const auto end = out.find('&', p);
    out.replace(p + 9, (end == std::string::npos ? out.size() : end) - p - 9, "***");
  }
  return out;
}

std::string_view label(db_url::backend b) {
  switch (b) {
    case db_url::backend::sqlite:
      return "sqlite";
    case db_url::backend::bettensor:
      return "bettensor";
    case db_url::backend::postgresql:
      return "postgresql";
  }
  return "sqlite";
}

std::unique_ptr<prediction_ledger> open_ledger(const db_url& url) {
  switch (url.kind) {
    case db_url::backend::sqlite:
      return std::make_unique<sqlite_ledger>(url.path);
    case db_url::backend::bettensor:
      return std::make_unique<sqlite_ledger>(url.path, sqlite_ledger::layout::bettensor);
    case db_url::backend::postgresql:
      return std::make_unique<postgres_ledger>(url);
  }
  throw storage_error("unknown backend");
}

}  // namespace bettensor::storage
