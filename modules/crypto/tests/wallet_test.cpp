#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json/serialize.hpp>

#include <filesystem>
#include <fstream>

#include "bettensor/crypto/ss58.hpp"
#include "bettensor/crypto/wallet.hpp"
#include "bettensor/test/vectors.hpp"

namespace bettensor::crypto {
namespace {

namespace fs = std::filesystem;

class WalletTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "bettensor-wallet-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text, mode_t mode = 0600) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }

  static boost::json::object example() {
    const auto doc = test::load_vectors("sr25519.json");
    return doc.at("bittensor_hotkey_file_example").at("file").as_object();
  }

  fs::path dir_;
};

TEST_F(WalletTest, LoadsTheBittensorExampleFile) {
  const auto o = example();
  const auto loaded = load_hotkey(write("hk", boost::json::serialize(o)));
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->ss58, std::string(o.at("ss58Address").as_string()));
  EXPECT_EQ("0x" + to_hex(loaded->keypair.public_key_bytes()),
            std::string(o.at("publicKey").as_string()));
}

TEST_F(WalletTest, LoadsFromPrivateKeyWhenSeedIsAbsent) {
  auto o = example();
  o.erase("secretSeed");
  o.erase("secretPhrase");
  const auto loaded = load_hotkey(write("hk", boost::json::serialize(o)));
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->ss58, std::string(o.at("ss58Address").as_string()));
}

TEST_F(WalletTest, RefusesAKeyMismatch) {
  auto o = example();
  o["publicKey"] = "0x" + to_hex(keypair::generate().public_key_bytes());
  const auto loaded = load_hotkey(write("hk", boost::json::serialize(o)));
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("publicKey does not match"), std::string::npos);
}

TEST_F(WalletTest, RefusesBadHex) {
  auto o = example();
  o["secretSeed"] = "0xzz";
  const auto loaded = load_hotkey(write("hk", boost::json::serialize(o)));
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("secretSeed must be"), std::string::npos);
}

TEST_F(WalletTest, RefusesGroupOrWorldReadableFiles) {
  const auto o = example();
  for (mode_t mode : {0640, 0604, 0644}) {
    const auto loaded = load_hotkey(write("hk", boost::json::serialize(o), mode));
    ASSERT_FALSE(loaded) << std::oct << mode;
    EXPECT_NE(loaded.error().message.find("chmod 600"), std::string::npos);
  }
}

TEST_F(WalletTest, RefusesGarbageAndMissingFiles) {
  EXPECT_FALSE(load_hotkey(write("hk", "not json")));
  EXPECT_FALSE(load_hotkey(write("hk", "[]")));
  EXPECT_FALSE(load_hotkey(write("hk", "$NACL...")));
  EXPECT_FALSE(load_hotkey(write("hk", "{}")));
  const auto missing = load_hotkey(dir_ / "nope");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot be read"), std::string::npos);
}

TEST_F(WalletTest, CreatesMode0600AndRefusesToOverwrite) {
  const wallet_location loc{dir_ / "wallets", "miner", "hk1"};
  const auto created = create_hotkey(loc.hotkey_file(), false);
  ASSERT_TRUE(created) << created.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(loc.hotkey_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const auto loaded = load_hotkey(loc.hotkey_file());
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->ss58, created->ss58);
  EXPECT_TRUE(ss58_decode(created->ss58));

  const auto again = create_hotkey(loc.hotkey_file(), false);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("--overwrite"), std::string::npos);
  const auto replaced = create_hotkey(loc.hotkey_file(), true);
  ASSERT_TRUE(replaced);
  EXPECT_NE(replaced->ss58, created->ss58);
}

}  // namespace
}  // namespace bettensor::crypto
