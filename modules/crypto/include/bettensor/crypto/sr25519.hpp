// sr25519: Schnorr signatures over ristretto255 exactly as schnorrkel signs with the
// signing context "substrate" (the Bittensor / Substrate hotkey scheme).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "bettensor/crypto/bytes.hpp"
#include "bettensor/crypto/ristretto_vartime.hpp"

namespace bettensor::crypto {

inline constexpr std::size_t public_key_size = 32;
inline constexpr std::size_t signature_size = 64;
inline constexpr std::size_t mini_secret_size = 32;
inline constexpr std::string_view substrate_context = "substrate";

using public_key = std::array<std::uint8_t, public_key_size>;
using signature = std::array<std::uint8_t, signature_size>;
using mini_secret = std::array<std::uint8_t, mini_secret_size>;

/// Why a signature was refused (schnorrkel's error names in comments).
enum class verify_result {
  valid,
  bad_length,      // BytesLengthError: signature not 64 bytes or key not 32
  not_marked,      // NotMarkedSchnorrkel: bit 7 of byte 63 clear
  scalar_format,   // ScalarFormatError: s >= l
  invalid_key,     // PointDecompressionError: key is not a canonical ristretto255 encoding
  identity_key,    // the identity key verifies every (R = B, s = 1) forgery; refused
  equation_false,  // EquationFalse: s*B - k*A != R
};

/// Human-readable reason for a verify_result.
std::string_view to_string(verify_result r) noexcept;

/// An sr25519 keypair. The secret half (scalar and nonce seed) is wiped on destruction.
class keypair {
 public:
  /// Schnorrkel MiniSecretKey::expand(ExpansionMode::Ed25519), as Substrate and Bittensor do.
  static keypair from_mini_secret(std::span<const std::uint8_t, mini_secret_size> mini) noexcept;
  /// A fresh key from the OS RNG; the mini secret is written to `mini_out` when given.
  static keypair generate(mini_secret* mini_out = nullptr) noexcept;
  /// schnorrkel SecretKey::from_bytes (scalar || nonce, scalar canonical): the hotkey
  /// file's `privateKey`. nullopt if the scalar is not canonical.
  static std::optional<keypair> from_schnorrkel_bytes(bytes_view secret64) noexcept;
  /// schnorrkel SecretKey::from_ed25519_bytes (8*scalar || nonce): polkadot-js `secretKey`.
  static std::optional<keypair> from_ed25519_bytes(bytes_view secret64) noexcept;

  keypair(const keypair& other) noexcept;
  keypair& operator=(const keypair& other) noexcept;
  ~keypair();

  [[nodiscard]] const public_key& public_key_bytes() const noexcept { return public_; }

  /// Signs with context "substrate" and a fresh random witness per signature.
  [[nodiscard]] signature sign(bytes_view message) const noexcept;
  /// Signs a message given in pieces (as if concatenated).
  [[nodiscard]] signature sign(std::initializer_list<bytes_view> message) const noexcept;
  /// Deterministic signing with the 32 bytes normally drawn from the OS RNG given
  /// explicitly: for reproducing reference vectors only.
  [[nodiscard]] signature sign_with_randomness(
      bytes_view message, std::span<const std::uint8_t, 32> random) const noexcept;

  /// scalar || nonce (the form Bittensor stores as `privateKey`). Caller must wipe it.
  [[nodiscard]] std::array<std::uint8_t, 64> schnorrkel_bytes() const noexcept;
  /// 8*scalar || nonce (polkadot-js `secretKey`). Caller must wipe it.
  [[nodiscard]] std::array<std::uint8_t, 64> ed25519_bytes() const noexcept;

 private:
  keypair() = default;
  signature sign_impl(std::initializer_list<bytes_view> message,
                      std::span<const std::uint8_t, 32> random) const noexcept;

  std::array<std::uint8_t, 32> scalar_{};
  std::array<std::uint8_t, 32> nonce_{};
  crypto::public_key public_{};
};

/// Verifies an sr25519 signature (context "substrate") on `message`. Never throws; any
/// hostile byte string gives a verdict.
[[nodiscard]] verify_result verify_detailed(bytes_view message, bytes_view sig,
                                            bytes_view key) noexcept;
[[nodiscard]] verify_result verify_detailed(std::initializer_list<bytes_view> message,
                                            bytes_view sig, bytes_view key) noexcept;

[[nodiscard]] inline bool verify(bytes_view message, bytes_view sig, bytes_view key) noexcept {
  return verify_detailed(message, sig, key) == verify_result::valid;
}

/// As Bittensor's Keypair.verify: a signature that fails over the text is tried once more over
/// "<Bytes>" + text + "</Bytes>" (the polkadot-js extension wrapping).
[[nodiscard]] bool verify_bittensor(bytes_view message, bytes_view sig, bytes_view key) noexcept;

/// A public key prepared for many verifications: decoded once, with tables of its multiples
/// (memory_bytes() each), so a verification costs about half as much. Immutable once made.
class verifying_key {
 public:
  /// nullptr when `key` is not a canonical ristretto255 point, is the identity, or memory ran
  /// out (then verify with the key bytes instead).
  static std::shared_ptr<const verifying_key> make(const public_key& key) noexcept;
  /// What one prepared key occupies.
  static std::size_t memory_bytes() noexcept;

  [[nodiscard]] const public_key& bytes() const noexcept { return key_; }
  [[nodiscard]] const vartime::key_tables& tables() const noexcept { return *tables_; }

 private:
  verifying_key(const public_key& key, vartime::key_tables_ptr tables) noexcept
      : key_(key), tables_(std::move(tables)) {}

  public_key key_;
  vartime::key_tables_ptr tables_;
};

/// verify_detailed and verify_bittensor with a prepared key: the same verdicts.
[[nodiscard]] verify_result verify_detailed(std::initializer_list<bytes_view> message,
                                            bytes_view sig, const verifying_key& key) noexcept;
[[nodiscard]] bool verify_bittensor(bytes_view message, bytes_view sig,
                                    const verifying_key& key) noexcept;

/// One message and its signature, for batch verification.
struct signed_message {
  bytes_view message;
  bytes_view sig;
};

/// Verifies several signatures by one key in one equation (schnorrkel's verify_batch, with the
/// key's terms merged and random 128-bit weights), writing verify_bittensor's verdict for each
/// item to `verdicts` (same size as `items`). When the equation fails, each item is verified
/// alone (which also tries the "<Bytes>" wrapping), so every verdict is exactly the
/// single-signature verdict. Returns whether the batch equation held.
bool verify_bittensor_batch(std::span<const signed_message> items, const verifying_key& key,
                            std::span<bool> verdicts) noexcept;

}  // namespace bettensor::crypto
