#include <gtest/gtest.h>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/test/vectors.hpp"

namespace bettensor::crypto {
namespace {

using test::hex;
using test::str;

TEST(Ss58, ValidVectorsEncodeAndDecode) {
  const auto doc = test::load_vectors("sr25519.json");
  const auto& cases = doc.at("ss58").as_array();
  ASSERT_EQ(cases.size(), 12u);
  for (const auto& c : cases) {
    SCOPED_TRACE(str(c.at("ss58")));
    public_key key{};
    const auto bytes = hex(c.at("public_key_hex"));
    std::copy(bytes.begin(), bytes.end(), key.begin());
    const auto prefix = c.at("prefix").to_number<std::uint16_t>();
    EXPECT_EQ(ss58_encode(key, prefix), str(c.at("ss58")));
    const auto decoded = ss58_decode(str(c.at("ss58")));
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(decoded->prefix, prefix);
    EXPECT_EQ(decoded->key, key);
  }
}

TEST(Ss58, InvalidVectorsAreRefusedWithTheRightReason) {
  const auto doc = test::load_vectors("sr25519.json");
  const auto& cases = doc.at("ss58_invalid").as_array();
  ASSERT_EQ(cases.size(), 13u);
  for (const auto& c : cases) {
    const std::string text = str(c.at("ss58"));
    const std::string why = str(c.at("why"));
    SCOPED_TRACE(why);
    const auto decoded = ss58_decode(text);
    ASSERT_FALSE(decoded);
    EXPECT_FALSE(c.at("valid_hotkey").as_bool());
    const auto e = decoded.error();
    if (why.starts_with("bad checksum")) {
      EXPECT_EQ(e, ss58_errc::bad_checksum);
    }
    if (why.starts_with("bad base58") || why.starts_with("leading space") ||
        why.starts_with("a 0x-hex")) {
      EXPECT_EQ(e, ss58_errc::bad_character);
    }
    if (why.starts_with("wrong length") || why.starts_with("33-byte")) {
      EXPECT_EQ(e, ss58_errc::bad_length);
    }
    if (why.starts_with("empty")) {
      EXPECT_EQ(e, ss58_errc::empty);
    }
    if (why.starts_with("first byte 0x80")) {
      EXPECT_EQ(e, ss58_errc::bad_prefix);
    }
    EXPECT_FALSE(e.message().empty());
  }
}

TEST(Ss58, RoundTripsEveryPrefixForm) {
  const keypair kp = keypair::generate();
  for (std::uint16_t prefix : {0, 1, 42, 63, 64, 255, 1284, 16383}) {
    const auto decoded = ss58_decode(ss58_encode(kp.public_key_bytes(), prefix));
    ASSERT_TRUE(decoded) << prefix;
    EXPECT_EQ(decoded->prefix, prefix);
    EXPECT_EQ(decoded->key, kp.public_key_bytes());
  }
}

TEST(Base58, LeadingZerosAndEmpty) {
  const std::vector<std::uint8_t> data = {0, 0, 1, 2, 3};
  const std::string enc = base58_encode(data);
  EXPECT_EQ(enc.substr(0, 2), "11");
  const auto dec = base58_decode(enc);
  ASSERT_TRUE(dec);
  EXPECT_EQ(*dec, data);
  EXPECT_EQ(base58_encode({}), "");
  EXPECT_FALSE(base58_decode("\xff"));
}

}  // namespace
}  // namespace bettensor::crypto
