#include "bettensor/crypto/wallet.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/throw_exception.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "bettensor/crypto/ss58.hpp"

namespace bettensor::crypto {

namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t max_hotkey_file_bytes = std::uintmax_t{64} * 1024;

wallet_error fail(const fs::path& file, std::string_view what) {
  return wallet_error{"hotkey file " + file.string() + ": " + std::string(what)};
}

std::string octal_mode(mode_t mode) {
  std::ostringstream os;
  os << '0' << std::oct << (mode & 0777);
  return os.str();
}

// Wipes a string that held secret material before it is freed.
struct wiped_string {
  std::string value;
  ~wiped_string() {
    if (!value.empty()) secure_wipe({reinterpret_cast<std::uint8_t*>(value.data()), value.size()});
  }
};

std::optional<std::string_view> string_field(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

}  // namespace

void throw_exception_from_error(const wallet_error& e, const boost::source_location& loc) {
  boost::throw_exception(std::runtime_error(e.message), loc);
}

wallet_result<hotkey> load_hotkey(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return fail(file, std::string("cannot be read: ") + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return fail(file, "is not a regular file");
  if ((st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) != 0) {
    return fail(file, "is accessible by group or others (mode " + octal_mode(st.st_mode) +
                          "); run: chmod 600 " + file.string());
  }
  if (static_cast<std::uintmax_t>(st.st_size) > max_hotkey_file_bytes) {
    return fail(file, "is too large to be a hotkey file");
  }

  wiped_string text;
  {
    std::ifstream in(file, std::ios::binary);
    if (!in) return fail(file, std::string("cannot be opened: ") + std::strerror(errno));
    text.value.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (text.value.starts_with("$NACL") || text.value.starts_with("$BTWALLET") ||
      text.value.starts_with("gAAAAA")) {
    return fail(file, "is encrypted; only unencrypted hotkey files are supported");
  }

  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(text.value, ec);
  if (ec || !doc.is_object()) return fail(file, "is not a JSON object");
  const boost::json::object& o = doc.get_object();

  std::optional<keypair> kp;
  if (auto seed_hex = string_field(o, "secretSeed")) {
    mini_secret seed{};
    if (!from_hex_exact(*seed_hex, seed, true)) {
      return fail(file, "secretSeed must be 0x followed by 64 hex digits");
    }
    kp = keypair::from_mini_secret(seed);
    secure_wipe(seed);
  } else if (auto priv_hex = string_field(o, "privateKey")) {
    std::array<std::uint8_t, 64> priv{};
    if (!from_hex_exact(*priv_hex, priv, true)) {
      return fail(file, "privateKey must be 0x followed by 128 hex digits");
    }
    kp = keypair::from_schnorrkel_bytes(priv);
    secure_wipe(priv);
    if (!kp) return fail(file, "privateKey is not a valid sr25519 secret key");
  } else {
    return fail(file, "has neither secretSeed nor privateKey");
  }

  const auto pub_hex = string_field(o, "publicKey");
  if (!pub_hex) return fail(file, "has no publicKey");
  public_key stored{};
  if (!from_hex_exact(*pub_hex, stored, true)) {
    return fail(file, "publicKey must be 0x followed by 64 hex digits");
  }
  if (stored != kp->public_key_bytes()) {
    return fail(file, "publicKey does not match the key derived from the secret");
  }
  if (auto account = string_field(o, "accountId")) {
    public_key acc{};
    if (!from_hex_exact(*account, acc, true) || acc != stored) {
      return fail(file, "accountId does not match publicKey");
    }
  }
  std::string ss58 = ss58_encode(kp->public_key_bytes());
  if (auto stored_ss58 = string_field(o, "ss58Address"); stored_ss58 && *stored_ss58 != ss58) {
    return fail(file, "ss58Address does not match publicKey");
  }
  // The parsed document held secret hex strings; wipe them before the DOM is freed.
  for (const char* k : {"secretSeed", "privateKey", "secretPhrase"}) {
    if (auto* v = doc.get_object().if_contains(k); v != nullptr && v->is_string()) {
      auto& s = v->get_string();
      secure_wipe({reinterpret_cast<std::uint8_t*>(s.data()), s.size()});
    }
  }
  return hotkey{*kp, std::move(ss58)};
}

wallet_result<void> write_hotkey(const fs::path& file, const keypair& kp, const mini_secret& seed,
                                 bool overwrite) {
  std::error_code fs_ec;
  if (!overwrite && fs::exists(file, fs_ec)) {
    return fail(file, "already exists; pass --overwrite to replace it");
  }
  if (file.has_parent_path()) {
    fs::create_directories(file.parent_path(), fs_ec);
    if (fs_ec) return fail(file, "cannot create its directory: " + fs_ec.message());
    // Only the owner needs to see the hotkeys directory.
    ::chmod(file.parent_path().c_str(), 0700);
  }

  const std::string pub = "0x" + to_hex(kp.public_key_bytes());
  auto priv_bytes = kp.schnorrkel_bytes();
  boost::json::object o;
  o["accountId"] = pub;
  o["publicKey"] = pub;
  o["privateKey"] = "0x" + to_hex(priv_bytes);
  o["secretSeed"] = "0x" + to_hex(seed);
  o["ss58Address"] = ss58_encode(kp.public_key_bytes());
  secure_wipe(priv_bytes);
  wiped_string text{boost::json::serialize(o)};
  for (auto& [k, v] : o) {
    auto& s = v.get_string();
    secure_wipe({reinterpret_cast<std::uint8_t*>(s.data()), s.size()});
  }

  // Write a temporary file with mode 0600, then rename it into place.
  const fs::path tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail(file, std::string("cannot be written: ") + std::strerror(errno));
  ::fchmod(fd, 0600);  // the umask or an older file may have left other bits
  std::size_t done = 0;
  while (done < text.value.size()) {
    const ssize_t n = ::write(fd, text.value.data() + done, text.value.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return fail(file, std::string("cannot be written: ") + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return fail(file, std::string("cannot be written: ") + std::strerror(err));
  }
  return {};
}

wallet_result<hotkey> create_hotkey(const fs::path& file, bool overwrite) {
  mini_secret seed{};
  keypair kp = keypair::generate(&seed);
  auto written = write_hotkey(file, kp, seed, overwrite);
  secure_wipe(seed);
  if (!written) return written.error();
  return hotkey{kp, ss58_encode(kp.public_key_bytes())};
}

}  // namespace bettensor::crypto
