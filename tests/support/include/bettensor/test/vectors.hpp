// Loads the shared reference vectors (../shared/testdata) for tests.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bettensor/crypto/bytes.hpp"

namespace bettensor::test {

inline boost::json::value load_vectors(const std::string& name) {
  const std::string path = std::string(BETTENSOR_TESTDATA_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open vector file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return boost::json::parse(ss.str());
}

inline std::vector<std::uint8_t> hex(const boost::json::value& v) {
  auto bytes = crypto::from_hex(std::string_view(v.as_string()));
  if (!bytes) throw std::runtime_error("bad hex in vector file");
  return *bytes;
}

inline std::string str(const boost::json::value& v) {
  return std::string(v.as_string());
}

}  // namespace bettensor::test
