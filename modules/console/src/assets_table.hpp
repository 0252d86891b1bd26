// The embedded files (generated assets.cpp), private to the module.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace bettensor::console::detail {

struct embedded_file {
  std::string_view name;
  std::string_view body;
};

inline constexpr std::size_t asset_count = 7;  // the list in CMakeLists.txt
extern const std::array<embedded_file, asset_count> embedded_files;

}  // namespace bettensor::console::detail
