#include <gtest/gtest.h>

#include <string>

#include "bettensor/protocol/json.hpp"

namespace bettensor::protocol {
namespace {

TEST(ParseJson, RefusesHostileText) {
  const std::vector<std::string> bad = {"",
                                        "{",
                                        "{\"a\":}",
                                        "[1,]",
                                        "nul",
                                        "{\"a\": 1} x",
                                        "\"\xff\"",
                                        "{'a': 1}",
                                        "NaN",
                                        "[1e999]",
                                        "18446744073709551616"};
  for (const auto& text : bad) {
    const auto r = parse_json(text);
    ASSERT_FALSE(r) << text;
    EXPECT_TRUE(r.error().message.starts_with("Invalid message format: ")) << r.error().message;
    EXPECT_EQ(r.error().code, errc::invalid_format);
  }
}

TEST(ParseJson, RefusesDeepNesting) {
  const std::string deep = std::string(1000, '[') + std::string(1000, ']');
  EXPECT_FALSE(parse_json(deep));
  const std::string ok = std::string(10, '[') + std::string(10, ']');
  EXPECT_TRUE(parse_json(ok));
}

TEST(ParseJson, KeepsIntegersExact) {
  const auto v = parse_json("[9223372036854775807, -9223372036854775808, 18446744073709551615]");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->as_array()[0].as_int64(), INT64_MAX);
  EXPECT_EQ(v->as_array()[1].as_int64(), INT64_MIN);
  EXPECT_EQ(v->as_array()[2].as_uint64(), UINT64_MAX);
}

}  // namespace
}  // namespace bettensor::protocol
