// Bittensor hotkey files: <wallet.path>/<wallet.name>/hotkeys/<wallet.hotkey>, a JSON object with
// secretSeed, publicKey, accountId, ss58Address, privateKey and optionally secretPhrase.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <filesystem>
#include <string>

#include "bettensor/crypto/sr25519.hpp"

namespace bettensor::crypto {

/// A wallet problem, worded for the operator (path and what to do), never containing key bytes.
struct wallet_error {
  std::string message;
};

[[noreturn]] void throw_exception_from_error(const wallet_error& e,
                                             const boost::source_location& loc);

template <class T>
using wallet_result = boost::system::result<T, wallet_error>;

/// Where a hotkey lives, as Bittensor lays wallets out.
struct wallet_location {
  std::filesystem::path path;  // --wallet.path, e.g. ~/.bittensor/wallets
  std::string name = "default";
  std::string hotkey = "default";

  [[nodiscard]] std::filesystem::path hotkey_file() const {
    return path / name / "hotkeys" / hotkey;
  }
};

/// A loaded hotkey: the keypair and its SS58 (prefix 42) address.
struct hotkey {
  crypto::keypair keypair;
  std::string ss58;
};

/// Loads and checks a hotkey file: not readable by group or others, valid JSON, the derived
/// public key equal to the stored one (and to accountId / ss58Address when present).
wallet_result<hotkey> load_hotkey(const std::filesystem::path& file);

/// Creates a new random hotkey file with mode 0600 (directories 0700). Refuses to replace an
/// existing file unless `overwrite`.
wallet_result<hotkey> create_hotkey(const std::filesystem::path& file, bool overwrite);

/// Writes an existing keypair (and its mini secret) in the Bittensor format.
wallet_result<void> write_hotkey(const std::filesystem::path& file, const keypair& kp,
                                 const mini_secret& seed, bool overwrite);

}  // namespace bettensor::crypto
