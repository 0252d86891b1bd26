#include "bettensor/protocol/json.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include <charconv>
#include <cmath>
#include <string>

namespace bettensor::protocol {

namespace {

namespace json = boost::json;

// The same value-building handler Boost.JSON's own parser uses, plus two refusals: integer
// literals too large for 64 bits (Boost.JSON would silently turn them into doubles) and
// non-finite numbers.
struct strict_handler {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  explicit strict_handler(json::storage_ptr sp) : st(std::move(sp)) {}

  json::value_stack st;
  std::string number_text;  // pieces of a number split across buffers
  const char* refusal = nullptr;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number_text.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    number_text.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    number_text.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double, json::string_view s, json::error_code& ec) {
    number_text.append(s.data(), s.size());
    const bool integer_literal = number_text.find_first_of(".eE") == std::string::npos;
    // Boost.JSON 1.81 converts decimals with up to one ulp of error; Python rounds correctly,
    // and the signed text depends on the exact double. from_chars rounds correctly.
    double d = 0;
    const char* first = number_text.data();
    const char* last = first + number_text.size();
    const auto [end, err] = std::from_chars(first, last, d);
    number_text.clear();
    if (integer_literal) return refuse("integer out of range", ec);
    if (err != std::errc() || end != last || !std::isfinite(d)) {
      return refuse("number out of range", ec);
    }
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

  bool refuse(const char* why, json::error_code& ec) {
    refusal = why;
    ec = json::error::exception;  // any error stops the parser; `refusal` says which
    return false;
  }
};

}  // namespace

namespace {

using strict_parser = json::basic_parser<strict_handler>;

result<json::value> parse_with(strict_parser& p, std::string_view text, json::storage_ptr sp) {
  p.reset();
  p.handler().st.reset(std::move(sp));
  p.handler().number_text.clear();
  p.handler().refusal = nullptr;
  json::error_code ec;
  const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (!ec && n < text.size()) ec = json::error::extra_data;
  if (ec) {
    if (p.handler().refusal != nullptr) return invalid_format(p.handler().refusal);
    return invalid_format("invalid JSON (" + ec.message() + ")");
  }
  return p.handler().st.release();
}

}  // namespace

result<json::value> parse_json(std::string_view text, parse_limits limits, json::storage_ptr sp) {
  json::parse_options opts;
  opts.max_depth = limits.max_depth;
  if (limits.max_depth == parse_limits{}.max_depth) {
    // One parser per thread for the usual limits: its stacks and its value stack's scratch
    // space are kept between documents (at most the largest message's worth), instead of a
    // few allocations per message.
    thread_local strict_parser usual(opts, json::storage_ptr());
    return parse_with(usual, text, std::move(sp));
  }
  strict_parser p(opts, json::storage_ptr());
  return parse_with(p, text, std::move(sp));
}

}  // namespace bettensor::protocol
