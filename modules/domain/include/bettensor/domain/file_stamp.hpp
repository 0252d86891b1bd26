// What a watched file looked like when last read: programs poll their input files and reload
// the ones whose stamp changed (the metagraph, blacklist and games files).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <system_error>

namespace bettensor::domain {

struct file_stamp {
  std::filesystem::file_time_type mtime{};
  std::uintmax_t size = 0;
  bool operator==(const file_stamp&) const = default;
};

/// The file's stamp, or nullopt if it cannot be read (missing, no permission).
inline std::optional<file_stamp> stamp_of(const std::filesystem::path& p) {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(p, ec);
  if (ec) return std::nullopt;
  const auto size = std::filesystem::file_size(p, ec);
  if (ec) return std::nullopt;
  return file_stamp{mtime, size};
}

}  // namespace bettensor::domain
