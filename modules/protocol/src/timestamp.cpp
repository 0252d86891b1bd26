#include "bettensor/protocol/timestamp.hpp"

#include <array>
#include <cstdio>

namespace bettensor::protocol {

namespace chr = std::chrono;

timestamp now_utc() noexcept {
  return chr::time_point_cast<chr::microseconds>(chr::system_clock::now());
}

namespace {

// Writes `value` as exactly `width` decimal digits ending before `end`.
char* put_digits(char* end, long long value, int width) noexcept {
  for (int i = 0; i < width; ++i) {
    *--end = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return end;
}

}  // namespace

std::string format_timestamp(timestamp t) {
  std::string out;
  append_timestamp(out, t);
  return out;
}

void append_timestamp(std::string& out, timestamp t) {
  const auto day = chr::floor<chr::days>(t);
  const chr::year_month_day ymd{day};
  const chr::hh_mm_ss<chr::microseconds> hms{t - day};
  const int year = static_cast<int>(ymd.year());
  const auto us = hms.subseconds().count();
  if (year < 0 || year > 9999) {  // outside what Python's isoformat() writes; kept as printf did
    std::array<char, 48> buf{};
    int n = std::snprintf(buf.data(), buf.size(), "%04d-%02u-%02uT%02d:%02d:%02lld", year,
                          static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                          static_cast<int>(hms.hours().count()),
                          static_cast<int>(hms.minutes().count()),
                          static_cast<long long>(hms.seconds().count()));
    out.append(buf.data(), static_cast<std::size_t>(n));
    if (us != 0) {
      n = std::snprintf(buf.data(), buf.size(), ".%06lld", static_cast<long long>(us));
      out.append(buf.data(), static_cast<std::size_t>(n));
    }
    out += "+00:00";
    return;
  }
  // YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00, as Python's isoformat() writes it; no printf per
  // confirmation.
  std::array<char, 32> buf{};
  char* p = buf.data();
  put_digits(p + 4, year, 4);
  p[4] = '-';
  put_digits(p + 7, static_cast<unsigned>(ymd.month()), 2);
  p[7] = '-';
  put_digits(p + 10, static_cast<unsigned>(ymd.day()), 2);
  p[10] = 'T';
  put_digits(p + 13, hms.hours().count(), 2);
  p[13] = ':';
  put_digits(p + 16, hms.minutes().count(), 2);
  p[16] = ':';
  put_digits(p + 19, hms.seconds().count(), 2);
  std::size_t n = 19;
  if (us != 0) {
    p[19] = '.';
    put_digits(p + 26, us, 6);
    n = 26;
  }
  for (const char c : {'+', '0', '0', ':', '0', '0'}) p[n++] = c;
  out.append(p, n);
}

namespace {

// Reads exactly `count` digits at s[pos]; advances pos.
bool digits(std::string_view s, std::size_t& pos, int count, int& value) noexcept {
  if (pos + static_cast<std::size_t>(count) > s.size()) return false;
  value = 0;
  for (int i = 0; i < count; ++i) {
    const char c = s[pos++];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) noexcept {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

std::optional<timestamp> parse_timestamp(std::string_view s) noexcept {
  std::size_t pos = 0;
  int y = 0;
  int mo = 0;
  int d = 0;
  int h = 0;
  int mi = 0;
  int sec = 0;
  if (!digits(s, pos, 4, y) || !expect(s, pos, '-') || !digits(s, pos, 2, mo) ||
      !expect(s, pos, '-') || !digits(s, pos, 2, d)) {
    return std::nullopt;
  }
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != ' ')) return std::nullopt;
  ++pos;
  if (!digits(s, pos, 2, h) || !expect(s, pos, ':') || !digits(s, pos, 2, mi) ||
      !expect(s, pos, ':') || !digits(s, pos, 2, sec)) {
    return std::nullopt;
  }
  long long micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && n < 9) {
      if (n < 6) micros = micros * 10 + (s[pos] - '0');
      ++pos;
      ++n;
    }
    if (n == 0) return std::nullopt;
    for (int k = n; k < 6; ++k) micros *= 10;
  }
  int offset_minutes = 0;
  if (pos < s.size()) {
    const char sign = s[pos++];
    if (sign == 'Z' || sign == 'z') {
      // UTC
    } else if (sign == '+' || sign == '-') {
      int oh = 0;
      int om = 0;
      if (!digits(s, pos, 2, oh)) return std::nullopt;
      if (pos < s.size() && s[pos] == ':') ++pos;
      if (!digits(s, pos, 2, om) || oh > 23 || om > 59) return std::nullopt;
      offset_minutes = (oh * 60 + om) * (sign == '-' ? -1 : 1);
    } else {
      return std::nullopt;
    }
  }
  if (pos != s.size()) return std::nullopt;
  const chr::year_month_day ymd{chr::year{y}, chr::month{static_cast<unsigned>(mo)},
                                chr::day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  return timestamp{chr::sys_days{ymd}} + chr::hours{h} + chr::minutes{mi} + chr::seconds{sec} +
         chr::microseconds{micros} - chr::minutes{offset_minutes};
}

bool within_window(timestamp ts, timestamp now, std::chrono::seconds window) noexcept {
  const auto diff = ts > now ? ts - now : now - ts;
  return diff <= window;
}

}  // namespace bettensor::protocol
