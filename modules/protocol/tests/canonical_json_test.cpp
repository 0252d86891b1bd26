#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "bettensor/protocol/canonical_json.hpp"
#include "bettensor/protocol/json.hpp"
#include "bettensor/test/vectors.hpp"

namespace bettensor::protocol {
namespace {

namespace json = boost::json;
using test::str;

// Texts Python accepts but a strict JSON parser must refuse (the vector file's own notes say
// so): unbounded integers, 1e400 (Python: inf), NaN/Infinity literals, a lone surrogate.
const std::set<std::string> refused_by_strict_parser = {
    "integer_beyond_64_bits", "float_overflow_input_becomes_infinity",
    "float_nan_infinity_nonstandard", "string_lone_surrogate"};

TEST(CanonicalJson, EveryReferenceCase) {
  const auto doc = test::load_vectors("canonical_json.json");
  const auto& cases = doc.at("cases").as_array();
  ASSERT_EQ(cases.size(), doc.at("count").to_number<std::size_t>());
  std::size_t matched = 0;
  std::size_t refused = 0;
  for (const auto& c : cases) {
    const std::string name = str(c.at("name"));
    SCOPED_TRACE(name);
    const auto parsed = parse_json(str(c.at("input_json")));
    if (refused_by_strict_parser.contains(name)) {
      ASSERT_FALSE(parsed);
      EXPECT_TRUE(parsed.error().message.starts_with("Invalid message format: "));
      ++refused;
      continue;
    }
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(to_canonical(*parsed), str(c.at("canonical")));
    ++matched;
  }
  EXPECT_EQ(refused, refused_by_strict_parser.size());
  EXPECT_EQ(matched + refused, cases.size());
}

TEST(CanonicalJson, RefusalsNameTheProblem) {
  EXPECT_EQ(parse_json("{\"v\": 18446744073709551616}").error().message,
            "Invalid message format: integer out of range");
  EXPECT_EQ(parse_json("{\"v\": -9223372036854775809}").error().message,
            "Invalid message format: integer out of range");
  EXPECT_FALSE(parse_json("{\"v\": 1e400}"));
}

// Values a strict parser cannot produce but the writer can hold still print as Python does.
TEST(CanonicalJson, NonFiniteFloatsPrintAsPython) {
  const json::value v = {{"inf", std::numeric_limits<double>::infinity()},
                         {"nan", std::numeric_limits<double>::quiet_NaN()},
                         {"ninf", -std::numeric_limits<double>::infinity()}};
  EXPECT_EQ(to_canonical(v), "{\"inf\": Infinity, \"nan\": NaN, \"ninf\": -Infinity}");
}

TEST(CanonicalJson, PythonFloatRepr) {
  const std::vector<std::pair<double, std::string>> cases = {
      {1.0, "1.0"},
      {100.0, "100.0"},
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {1e-5, "1e-05"},
      {0.0001, "0.0001"},
      {-0.0, "-0.0"},
      {0.0, "0.0"},
      {2.5, "2.5"},
      {1.5e300, "1.5e+300"},
      {5e-324, "5e-324"},
      {123456789.123, "123456789.123"},
      {-1.5, "-1.5"},
      {0.1 + 0.2, "0.30000000000000004"},
      {9007199254740992.0, "9007199254740992.0"},
      {1.2345678901234568e+17, "1.2345678901234568e+17"},
      {-1e-7, "-1e-07"},
      {-12345.678, "-12345.678"}};
  for (const auto& [d, text] : cases) {
    std::string out;
    append_python_float(out, d);
    EXPECT_EQ(out, text) << d;
  }
}

TEST(CanonicalJson, InvalidUtf8IsWrittenAsReplacementCharacter) {
  std::string out;
  append_python_string(out, std::string("a\xff"
                                        "b\xc3",
                                        4));
  EXPECT_EQ(out, "\"a\\ufffdb\\ufffd\"");
}

TEST(CanonicalJson, SkipsOneKey) {
  const auto v = parse_json(R"({"signature": "x", "b": 1, "a": 2})");
  ASSERT_TRUE(v);
  std::string out;
  append_canonical_without(out, v->get_object(), "signature");
  EXPECT_EQ(out, "{\"a\": 2, \"b\": 1}");
}

// Property: random nested values survive canonical -> parse -> canonical unchanged, and the
// parsed value equals the original.
class random_value {
 public:
  explicit random_value(std::uint64_t seed) : rng_(seed) {}

  json::value make(int depth) {
    const int pick = static_cast<int>(rng_() % (depth > 3 ? 6 : 8));
    switch (pick) {
      case 0:
        return nullptr;
      case 1:
        return (rng_() & 1) != 0;
      case 2:
        return static_cast<std::int64_t>(rng_());
      case 3:
        return rng_();
      case 4:
        return random_double();
      case 5:
        return json::string(random_string());
      case 6: {
        json::array a;
        for (std::size_t i = rng_() % 5; i > 0; --i) a.push_back(make(depth + 1));
        return a;
      }
      default: {
        json::object o;
        for (std::size_t i = rng_() % 5; i > 0; --i) o[random_string()] = make(depth + 1);
        return o;
      }
    }
  }

 private:
  double random_double() {
    switch (rng_() % 4) {
      case 0:
        return static_cast<double>(static_cast<std::int32_t>(rng_())) / 100.0;
      case 1:
        return std::ldexp(static_cast<double>(rng_() >> 11), static_cast<int>(rng_() % 200) - 100);
      case 2:
        return static_cast<double>(rng_() % 1000);  // integral floats keep ".0"
      default: {
        double d = 0;
        do {
          std::uint64_t bits = rng_();
          std::memcpy(&d, &bits, sizeof d);
        } while (!std::isfinite(d));
        return d;
      }
    }
  }

  std::string random_string() {
    static const std::vector<std::string> pieces = {"a",
                                                    "Z",
                                                    "_",
                                                    " ",
                                                    "\"",
                                                    "\\",
                                                    "\n",
                                                    "\t",
                                                    "\x01",
                                                    "\x7f",
                                                    "/",
                                                    "\xc3\xa9",
                                                    "\xe2\x82\xac",
                                                    "\xf0\x9f\x98\x80",
                                                    "\xef\xbf\xbf",
                                                    "0",
                                                    "key"};
    std::string s;
    for (std::size_t i = rng_() % 6; i > 0; --i) s += pieces[rng_() % pieces.size()];
    return s;
  }

  std::mt19937_64 rng_;
};

TEST(CanonicalJson, RandomValuesRoundTrip) {
  random_value gen(42);
  for (int i = 0; i < 2000; ++i) {
    const json::value v = gen.make(0);
    const std::string text = to_canonical(v);
    const auto back = parse_json(text);
    ASSERT_TRUE(back) << text << ": " << back.error().message;
    EXPECT_EQ(*back, v) << text;
    EXPECT_EQ(to_canonical(*back), text);
  }
}

}  // namespace
}  // namespace bettensor::protocol
