#include "bettensor/protocol/canonical_json.hpp"

#include <boost/container/small_vector.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <vector>

namespace bettensor::protocol {

namespace {

constexpr std::string_view hex_digits = "0123456789abcdef";

void append_u_escape(std::string& out, unsigned unit) {
  const std::array<char, 6> esc = {'\\',
                                   'u',
                                   hex_digits[(unit >> 12) & 0xf],
                                   hex_digits[(unit >> 8) & 0xf],
                                   hex_digits[(unit >> 4) & 0xf],
                                   hex_digits[unit & 0xf]};
  out.append(esc.data(), esc.size());
}

// Decodes one UTF-8 sequence at s[i]; advances i. Returns U+FFFD for an invalid sequence
// (overlong, surrogate, out of range, truncated) and skips one byte.
char32_t decode_utf8(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  int len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2, cp = b0 & 0x1f, min = 0x80;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3, cp = b0 & 0x0f, min = 0x800;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++i;
    return U'\uFFFD';
  }
  if (i + static_cast<std::size_t>(len) > s.size()) {
    ++i;
    return U'\uFFFD';
  }
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
    if ((b & 0xc0) != 0x80) {
      ++i;
      return U'\uFFFD';
    }
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    ++i;
    return U'\uFFFD';
  }
  i += static_cast<std::size_t>(len);
  return cp;
}

void append_number(std::string& out, auto n) {
  std::array<char, 24> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), n);
  out.append(buf.data(), r.ptr);
}

}  // namespace

void append_python_string(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      // Printable ASCII: copy the run up to the next byte needing attention.
      std::size_t j = i;
      while (j < s.size()) {
        const auto d = static_cast<unsigned char>(s[j]);
        if (d < 0x20 || d >= 0x7f || d == '"' || d == '\\') break;
        ++j;
      }
      if (j > i) {
        out.append(s.data() + i, j - i);
        i = j;
        continue;
      }
      out.push_back('\\');
      out.push_back(static_cast<char>(c));  // '"' or '\\'
      ++i;
      continue;
    }
    if (c < 0x80) {
      switch (c) {
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          append_u_escape(out, c);  // other controls and DEL
      }
      ++i;
      continue;
    }
    const char32_t cp = decode_utf8(s, i);
    if (cp >= 0x10000) {
      const char32_t v = cp - 0x10000;
      append_u_escape(out, 0xd800 + (v >> 10));
      append_u_escape(out, 0xdc00 + (v & 0x3ff));
    } else {
      append_u_escape(out, cp);
    }
  }
  out.push_back('"');
}

// Python's float repr (PyOS_double_to_string with 'r' and Py_DTSF_ADD_DOT_0): the shortest
// digits that round-trip (std::to_chars gives the same digits); with the decimal point at
// position decpt (value = 0.DIGITS * 10^decpt), positional notation when -4 < decpt <= 16,
// otherwise "d.ddde+XX" with a sign and at least two exponent digits. A positional integral
// value gets ".0"; the exponent form gets no ".0" ("1e+16").
void append_python_float(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "NaN";
    return;
  }
  if (std::isinf(d)) {
    out += d < 0 ? "-Infinity" : "Infinity";
    return;
  }
  if (d == 0) {
    out += std::signbit(d) ? "-0.0" : "0.0";
    return;
  }
  std::array<char, 40> buf{};
  const auto r =
      std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::scientific);
  const std::string_view sci(buf.data(), static_cast<std::size_t>(r.ptr - buf.data()));
  const std::size_t e_pos = sci.find('e');
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(),
                  exponent);
  const int decpt = exponent + 1;
  if (decpt <= -4 || decpt > 16) {
    out.append(sci);  // to_chars already writes "1.5e+300", "1e-05"
    return;
  }
  std::string_view mantissa = sci.substr(0, e_pos);
  if (mantissa.front() == '-') {
    out.push_back('-');
    mantissa.remove_prefix(1);
  }
  std::string digits;
  digits.reserve(mantissa.size());
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  const int ndigits = static_cast<int>(digits.size());
  if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-decpt), '0');
    out += digits;
  } else if (decpt >= ndigits) {
    out += digits;
    out.append(static_cast<std::size_t>(decpt - ndigits), '0');
    out += ".0";
  } else {
    out.append(digits, 0, static_cast<std::size_t>(decpt));
    out.push_back('.');
    out.append(digits, static_cast<std::size_t>(decpt));
  }
}

void append_canonical(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      out += "null";
      return;
    case boost::json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case boost::json::kind::int64:
      append_number(out, v.get_int64());
      return;
    case boost::json::kind::uint64:
      append_number(out, v.get_uint64());
      return;
    case boost::json::kind::double_:
      append_python_float(out, v.get_double());
      return;
    case boost::json::kind::string:
      append_python_string(out, v.get_string());
      return;
    case boost::json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ", ";
        first = false;
        append_canonical(out, e);
      }
      out.push_back(']');
      return;
    }
    case boost::json::kind::object:
      append_canonical_without(out, v.get_object(), {});
      return;
  }
}

void append_canonical_without(std::string& out, const boost::json::object& o,
                              std::string_view skipped_key) {
  // Code point order equals UTF-8 byte order, which is how string_view compares.
  // Every message's objects fit the inline space: no allocation for the sort.
  boost::container::small_vector<const boost::json::key_value_pair*, 32> members;
  members.reserve(o.size());
  for (const auto& kv : o) {
    if (skipped_key.empty() || kv.key() != skipped_key) members.push_back(&kv);
  }
  std::sort(members.begin(), members.end(),
            [](const auto* a, const auto* b) { return a->key() < b->key(); });
  out.push_back('{');
  bool first = true;
  for (const auto* kv : members) {
    if (!first) out += ", ";
    first = false;
    append_python_string(out, kv->key());
    out += ": ";
    append_canonical(out, kv->value());
  }
  out.push_back('}');
}

std::string& canonical_members::key(std::string_view k) {
  out_ += first_ ? "{" : ", ";
  first_ = false;
  append_python_string(out_, k);
  out_ += ": ";
  return out_;
}

void canonical_members::text(std::string_view k, std::string_view v) {
  append_python_string(key(k), v);
}

void canonical_members::optional_text(std::string_view k, const std::optional<std::string>& v) {
  if (v) {
    text(k, *v);
  } else {
    key(k) += "null";
  }
}

void canonical_members::number(std::string_view k, double v) {
  append_python_float(key(k), v);
}

void canonical_members::optional_number(std::string_view k, const std::optional<double>& v) {
  if (v) {
    number(k, *v);
  } else {
    key(k) += "null";
  }
}

std::string to_canonical(const boost::json::value& v) {
  std::string out;
  append_canonical(out, v);
  return out;
}

}  // namespace bettensor::protocol
