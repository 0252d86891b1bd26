// ISO-8601 UTC timestamps as Python's datetime.isoformat() writes them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace bettensor::protocol {

using timestamp = std::chrono::sys_time<std::chrono::microseconds>;

/// Default acceptance window for message timestamps (SPEC: 300 s).
inline constexpr std::chrono::seconds default_timestamp_window{300};

[[nodiscard]] timestamp now_utc() noexcept;

/// "2026-11-29T20:00:00.123456+00:00"; the fraction is omitted when it is zero, as Python does.
[[nodiscard]] std::string format_timestamp(timestamp t);
/// Appends the same text to `out` (no allocation when `out` has room).
void append_timestamp(std::string& out, timestamp t);

/// Accepts "YYYY-MM-DDTHH:MM:SS[.f...][Z|+HH:MM|-HH:MM]" (a space may replace the 'T'; 1 to 9
/// fraction digits, truncated to microseconds). A timestamp without an offset is taken as UTC.
[[nodiscard]] std::optional<timestamp> parse_timestamp(std::string_view text) noexcept;

/// |ts - now| <= window.
[[nodiscard]] bool within_window(timestamp ts, timestamp now, std::chrono::seconds window) noexcept;

}  // namespace bettensor::protocol
