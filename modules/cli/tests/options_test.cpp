#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "bettensor/cli/options.hpp"

namespace bettensor::cli {
namespace {

po::options_description test_options() {
  po::options_description d("Test");
  d.add_options()("wallet.name", po::value<std::string>()->default_value("default"), "wallet")(
      "websocket.port", po::value<int>()->default_value(10401), "port");
  return d;
}

std::optional<po::variables_map> run(std::vector<const char*> args) {
  args.insert(args.begin(), "prog");
  return parse(static_cast<int>(args.size()), args.data(), {"prog", "test"}, test_options());
}

TEST(Cli, DefaultsAndFlags) {
  const auto vm = run({"--wallet.name=miner", "--websocket.port", "9000"});
  ASSERT_TRUE(vm);
  EXPECT_EQ((*vm)["wallet.name"].as<std::string>(), "miner");
  EXPECT_EQ((*vm)["websocket.port"].as<int>(), 9000);
  EXPECT_EQ((*run({}))["websocket.port"].as<int>(), 10401);
}

TEST(Cli, BadFlagsNameTheFlag) {
  try {
    run({"--no-such-flag"});
    FAIL() << "accepted an unknown flag";
  } catch (const usage_error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-flag"), std::string::npos) << e.what();
  }
  try {
    run({"--websocket.port=abc"});
    FAIL() << "accepted a bad value";
  } catch (const usage_error& e) {
    EXPECT_NE(std::string(e.what()).find("websocket.port"), std::string::npos) << e.what();
  }
  EXPECT_THROW(run({"positional"}), usage_error);
  EXPECT_THROW(run({"--config=/nonexistent/file.ini"}), usage_error);
}

TEST(Cli, ConfigFileWithCommandLineWinning) {
  const auto file = std::filesystem::temp_directory_path() / "bettensor-cli-test.ini";
  std::ofstream(file) << "wallet.name = from-file\n[websocket]\nport = 9100\n";
  const std::string flag = "--config=" + file.string();
  const auto vm = run({flag.c_str(), "--wallet.name=from-cli"});
  ASSERT_TRUE(vm);
  EXPECT_EQ((*vm)["wallet.name"].as<std::string>(), "from-cli");
  EXPECT_EQ((*vm)["websocket.port"].as<int>(), 9100);
  std::ofstream(file) << "unknown.key = 1\n";
  EXPECT_THROW(run({flag.c_str()}), usage_error);
  std::filesystem::remove(file);
}

TEST(Cli, HelpReturnsNothing) {
  EXPECT_FALSE(run({"--help"}));
}

TEST(Cli, ExpandUser) {
  ::setenv("HOME", "/home/miner", 1);
  EXPECT_EQ(expand_user("~/.bittensor/wallets"), "/home/miner/.bittensor/wallets");
  EXPECT_EQ(expand_user("~"), "/home/miner");
  EXPECT_EQ(expand_user("/srv/w"), "/srv/w");
}

}  // namespace
}  // namespace bettensor::cli
