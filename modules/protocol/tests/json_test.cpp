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

// A refusal part way through a document (a number split across nothing, a half-built object)
// leaves nothing behind for the next document parsed on the same thread.
TEST(ParseJson, EachDocumentStartsClean) {
  for (const char* bad : {"{\"a\": [1, 2, {\"b\": 123456789012345678901234}", "{\"a\": 1e999",
                          "[[[[", "{\"k\": \"unterminated"}) {
    ASSERT_FALSE(parse_json(bad)) << bad;
    const auto good = parse_json(R"({"a": [1.5, "x"], "b": null})");
    ASSERT_TRUE(good) << "after " << bad;
    const auto& o = good->as_object();
    EXPECT_EQ(o.size(), 2U);
    ASSERT_EQ(o.at("a").as_array().size(), 2U);
    EXPECT_EQ(o.at("a").as_array()[0].as_double(), 1.5);
    EXPECT_EQ(o.at("a").as_array()[1].as_string(), "x");
    EXPECT_TRUE(o.at("b").is_null());
  }
  EXPECT_FALSE(parse_json(std::string(40, '['), {.max_depth = 8}));  // another limit, same thread
  EXPECT_TRUE(parse_json(std::string(20, '[') + std::string(20, ']')));
}

}  // namespace
}  // namespace bettensor::protocol
