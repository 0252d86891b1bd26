// Strict JSON parsing for hostile input.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <string_view>

#include "bettensor/protocol/error.hpp"

namespace bettensor::protocol {

struct parse_limits {
  std::size_t max_depth = 32;
};

/// Parses one JSON document. Refuses (with an "Invalid message format: ..." error, never an
/// exception) invalid JSON or UTF-8, trailing text, nesting deeper than the limit, and integer
/// literals outside the 64-bit range: Python would keep such integers exactly, a double cannot,
/// so accepting them would only make the signed text disagree. The value's memory comes from
/// `sp` (the default heap when null).
result<boost::json::value> parse_json(std::string_view text, parse_limits limits = {},
                                      boost::json::storage_ptr sp = {});

}  // namespace bettensor::protocol
