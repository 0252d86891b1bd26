// The signed text of Bettensor messages: Python's json.dumps(obj, sort_keys=True), byte for byte.
#pragma once

#include <boost/json/fwd.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace bettensor::protocol {

/// Appends the canonical text of `v`: keys sorted by code point at every level, separators
/// ", " and ": ", non-ASCII escaped as \uXXXX (surrogate pairs above U+FFFF), floats as Python's
/// repr, true/false/null.
void append_canonical(std::string& out, const boost::json::value& v);

/// The canonical text of `v`.
std::string to_canonical(const boost::json::value& v);

/// The canonical text of an object without one of its keys (the auth message is signed over
/// every key except "signature").
void append_canonical_without(std::string& out, const boost::json::object& o,
                              std::string_view skipped_key);

/// Python repr() of a double ("1.0", "1e+16", "1e-05", "0.0001", "-0.0", "Infinity").
void append_python_float(std::string& out, double d);

/// Writes an object member by member in the order of the calls, which must be code point order
/// (the order append_canonical sorts keys into): the same text, without building the object.
class canonical_members {
 public:
  explicit canonical_members(std::string& out) : out_(out) {}
  /// Writes `{"k": ` for the first key, `, "k": ` after; the caller appends the value to the
  /// string returned.
  std::string& key(std::string_view k);
  void text(std::string_view k, std::string_view v);
  void optional_text(std::string_view k, const std::optional<std::string>& v);
  void number(std::string_view k, double v);
  void optional_number(std::string_view k, const std::optional<double>& v);
  /// Writes the closing `}`.
  void close() { out_.push_back('}'); }

 private:
  std::string& out_;
  bool first_ = true;
};

/// A JSON string literal as Python writes it with ensure_ascii=True (input is UTF-8; an
/// invalid sequence is written as U+FFFD, since Python strings cannot hold one).
void append_python_string(std::string& out, std::string_view utf8);

}  // namespace bettensor::protocol
