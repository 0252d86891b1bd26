// bettensor-keygen: creates a Bittensor hotkey file and prints its SS58 address.
#include <exception>
#include <iostream>

#include "bettensor/cli/options.hpp"
#include "bettensor/crypto/wallet.hpp"

namespace po = boost::program_options;
using namespace bettensor;

int main(int argc, char** argv) try {
  po::options_description options("Wallet");
  options.add_options()("wallet.path",
                        po::value<std::string>()->default_value("~/.bittensor/wallets"),
                        "directory holding the wallets")(
      "wallet.name", po::value<std::string>()->default_value("default"), "wallet (coldkey) name")(
      "wallet.hotkey", po::value<std::string>()->default_value("default"), "hotkey name")(
      "overwrite", po::bool_switch(), "replace an existing hotkey file")(
      "show", po::bool_switch(),
      "do not create: load the existing hotkey, check it, print its address");

  const auto vm = cli::parse(
      argc, argv,
      {"bettensor-keygen",
       "Creates an sr25519 hotkey at <wallet.path>/<wallet.name>/hotkeys/<wallet.hotkey> in the\n"
       "Bittensor file format (mode 0600) and prints its SS58 address (prefix 42) on stdout.\n"
       "Exit codes: 0 done, 1 the wallet could not be written or read, 2 bad flags."},
      options);
  if (!vm) return 0;

  const crypto::wallet_location where{cli::expand_user((*vm)["wallet.path"].as<std::string>()),
                                      (*vm)["wallet.name"].as<std::string>(),
                                      (*vm)["wallet.hotkey"].as<std::string>()};
  const auto file = where.hotkey_file();
  const auto key = (*vm)["show"].as<bool>()
                       ? crypto::load_hotkey(file)
                       : crypto::create_hotkey(file, (*vm)["overwrite"].as<bool>());
  if (!key) {
    std::cerr << "bettensor-keygen: " << key.error().message << '\n';
    return 1;
  }
  if (!(*vm)["show"].as<bool>()) std::cerr << "bettensor-keygen: wrote " << file.string() << '\n';
  std::cout << key->ss58 << '\n';
  return 0;
} catch (const bettensor::cli::usage_error& e) {
  std::cerr << "bettensor-keygen: " << e.what() << " (see --help)\n";
  return bettensor::cli::usage_exit_code;
} catch (const std::exception& e) {
  std::cerr << "bettensor-keygen: " << e.what() << '\n';
  return 1;
}
