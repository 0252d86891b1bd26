#include "bettensor/crypto/sr25519.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "bettensor/crypto/merlin.hpp"
#include "bettensor/crypto/ristretto_vartime.hpp"
#include "sodium_init.hpp"

namespace bettensor::crypto {

namespace {

// The group order l = 2^252 + 27742317777372353535851937790883648493, little-endian.
constexpr std::array<std::uint8_t, 32> group_order = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

bool is_canonical_scalar(const std::uint8_t* s) noexcept {
  for (int i = 31; i >= 0; --i) {
    if (s[i] != group_order[i]) return s[i] < group_order[i];
  }
  return false;  // equal to l
}

// Divides a 256-bit little-endian number by 8 (exact when the low 3 bits are 0).
void shift_right_3(const std::uint8_t* in, std::uint8_t* out) noexcept {
  for (int i = 0; i < 32; ++i) {
    const unsigned next = i < 31 ? in[i + 1] : 0;
    out[i] = static_cast<std::uint8_t>((in[i] >> 3) | (next << 5));
  }
}

void shift_left_3(const std::uint8_t* in, std::uint8_t* out) noexcept {
  unsigned carry = 0;
  for (int i = 0; i < 32; ++i) {
    out[i] = static_cast<std::uint8_t>((in[i] << 3) | carry);
    carry = in[i] >> 5;
  }
}

// The transcript shared by signing and verification: context, message, protocol name, key.
// The part before the message is the same every time, so it is computed once.
transcript signing_transcript(std::initializer_list<bytes_view> message,
                              const public_key& key) noexcept {
  static const transcript context_prefix = [] {
    transcript t("SigningContext");
    t.append_message("", as_bytes(substrate_context));
    return t;
  }();
  transcript t = context_prefix;
  t.append_message("sign-bytes", message);
  t.append_message("proto-name", as_bytes("Schnorr-sig"));
  t.append_message("sign:pk", key);
  return t;
}

void challenge_scalar(transcript& t, std::uint8_t* k) noexcept {
  std::array<std::uint8_t, 64> wide{};
  t.challenge_bytes("sign:c", wide);
  crypto_core_ristretto255_scalar_reduce(k, wide.data());
}

// The checks before the group operation, and the challenge k; the verdict if one fails.
std::optional<verify_result> precheck(std::initializer_list<bytes_view> message, bytes_view sig,
                                      const public_key& a, std::array<std::uint8_t, 32>& s,
                                      std::array<std::uint8_t, 32>& k) noexcept {
  if (sig.size() != signature_size) return verify_result::bad_length;
  if ((sig[63] & 0x80) == 0) return verify_result::not_marked;
  std::memcpy(s.data(), sig.data() + 32, 32);
  s[31] &= 0x7f;
  if (!is_canonical_scalar(s.data())) return verify_result::scalar_format;
  if (sodium_is_zero(a.data(), a.size()) != 0) return verify_result::identity_key;
  transcript t = signing_transcript(message, a);
  t.append_message("sign:R", sig.first(32));  // R as received; never decoded
  challenge_scalar(t, k.data());
  return std::nullopt;
}

verify_result compare_r(const vartime::point_bytes& r_prime, bytes_view sig) noexcept {
  return std::memcmp(r_prime.data(), sig.data(), 32) == 0 ? verify_result::valid
                                                          : verify_result::equation_false;
}

template <class Key>
bool verify_bittensor_with(bytes_view message, bytes_view sig, const Key& key) noexcept {
  const verify_result plain = verify_detailed({message}, sig, key);
  if (plain == verify_result::valid) return true;
  if (plain != verify_result::equation_false) return false;  // malformed: wrapping cannot help
  return verify_detailed({as_bytes("<Bytes>"), message, as_bytes("</Bytes>")}, sig, key) ==
         verify_result::valid;
}

}  // namespace

std::string_view to_string(verify_result r) noexcept {
  switch (r) {
    case verify_result::valid:
      return "valid";
    case verify_result::bad_length:
      return "signature must be 64 bytes and key 32 bytes";
    case verify_result::not_marked:
      return "signature is not marked as schnorrkel";
    case verify_result::scalar_format:
      return "signature scalar is not canonical";
    case verify_result::invalid_key:
      return "public key is not a valid ristretto255 point";
    case verify_result::identity_key:
      return "public key is the identity point";
    case verify_result::equation_false:
      return "signature does not match";
  }
  return "unknown";
}

keypair keypair::from_mini_secret(std::span<const std::uint8_t, mini_secret_size> mini) noexcept {
  detail::ensure_sodium();
  std::array<std::uint8_t, 64> h{};
  crypto_hash_sha512(h.data(), mini.data(), mini.size());
  h[0] &= 248;
  h[31] &= 63;
  h[31] |= 64;
  keypair kp;
  shift_right_3(h.data(), kp.scalar_.data());  // divide the clamped half by the cofactor
  std::memcpy(kp.nonce_.data(), h.data() + 32, 32);
  secure_wipe(h);
  crypto_scalarmult_ristretto255_base(kp.public_.data(), kp.scalar_.data());
  return kp;
}

keypair keypair::generate(mini_secret* mini_out) noexcept {
  mini_secret mini{};
  random_bytes(mini);
  keypair kp = from_mini_secret(mini);
  if (mini_out != nullptr) *mini_out = mini;
  secure_wipe(mini);
  return kp;
}

std::optional<keypair> keypair::from_schnorrkel_bytes(bytes_view secret64) noexcept {
  detail::ensure_sodium();
  if (secret64.size() != 64 || !is_canonical_scalar(secret64.data())) return std::nullopt;
  keypair kp;
  std::memcpy(kp.scalar_.data(), secret64.data(), 32);
  std::memcpy(kp.nonce_.data(), secret64.data() + 32, 32);
  crypto_scalarmult_ristretto255_base(kp.public_.data(), kp.scalar_.data());
  return kp;
}

std::optional<keypair> keypair::from_ed25519_bytes(bytes_view secret64) noexcept {
  if (secret64.size() != 64) return std::nullopt;
  std::array<std::uint8_t, 64> converted{};
  shift_right_3(secret64.data(), converted.data());
  std::memcpy(converted.data() + 32, secret64.data() + 32, 32);
  auto kp = from_schnorrkel_bytes(converted);
  secure_wipe(converted);
  return kp;
}

keypair::keypair(const keypair& other) noexcept
    : scalar_(other.scalar_), nonce_(other.nonce_), public_(other.public_) {}

keypair& keypair::operator=(const keypair& other) noexcept {
  scalar_ = other.scalar_;
  nonce_ = other.nonce_;
  public_ = other.public_;
  return *this;
}

keypair::~keypair() {
  secure_wipe(scalar_);
  secure_wipe(nonce_);
}

std::array<std::uint8_t, 64> keypair::schnorrkel_bytes() const noexcept {
  std::array<std::uint8_t, 64> out{};
  std::memcpy(out.data(), scalar_.data(), 32);
  std::memcpy(out.data() + 32, nonce_.data(), 32);
  return out;
}

std::array<std::uint8_t, 64> keypair::ed25519_bytes() const noexcept {
  std::array<std::uint8_t, 64> out{};
  shift_left_3(scalar_.data(), out.data());
  std::memcpy(out.data() + 32, nonce_.data(), 32);
  return out;
}

signature keypair::sign(bytes_view message) const noexcept {
  return sign({message});
}

signature keypair::sign(std::initializer_list<bytes_view> message) const noexcept {
  std::array<std::uint8_t, 32> random{};
  pooled_random_bytes(random);
  signature sig = sign_impl(message, random);
  secure_wipe(random);
  return sig;
}

signature keypair::sign_with_randomness(bytes_view message,
                                        std::span<const std::uint8_t, 32> random) const noexcept {
  return sign_impl({message}, random);
}

signature keypair::sign_impl(std::initializer_list<bytes_view> message,
                             std::span<const std::uint8_t, 32> random) const noexcept {
  detail::ensure_sodium();
  transcript t = signing_transcript(message, public_);

  std::array<std::uint8_t, 64> witness{};
  t.witness_bytes("signing", {nonce_}, random, witness);
  std::array<std::uint8_t, 32> r{};
  crypto_core_ristretto255_scalar_reduce(r.data(), witness.data());
  secure_wipe(witness);

  signature sig{};
  crypto_scalarmult_ristretto255_base(sig.data(), r.data());  // R = r*B
  t.append_message("sign:R", bytes_view(sig.data(), 32));

  std::array<std::uint8_t, 32> k{};
  challenge_scalar(t, k.data());
  std::array<std::uint8_t, 32> ks{};
  crypto_core_ristretto255_scalar_mul(ks.data(), k.data(), scalar_.data());
  crypto_core_ristretto255_scalar_add(sig.data() + 32, ks.data(), r.data());  // s = k*a + r
  sig[63] |= 0x80;                                                            // schnorrkel marker
  secure_wipe(r);
  secure_wipe(ks);
  return sig;
}

verify_result verify_detailed(bytes_view message, bytes_view sig, bytes_view key) noexcept {
  return verify_detailed({message}, sig, key);
}

verify_result verify_detailed(std::initializer_list<bytes_view> message, bytes_view sig,
                              bytes_view key) noexcept {
  detail::ensure_sodium();
  if (key.size() != public_key_size) return verify_result::bad_length;
  public_key a{};
  std::memcpy(a.data(), key.data(), a.size());
  std::array<std::uint8_t, 32> s{};
  std::array<std::uint8_t, 32> k{};
  if (const auto refused = precheck(message, sig, a, s, k)) return *refused;
  // R' = s*B - k*A, in variable time: every input is public.
  const auto r_prime = vartime::base_mul_sub(s, k, a);
  if (!r_prime) return verify_result::invalid_key;
  return compare_r(*r_prime, sig);
}

bool verify_bittensor(bytes_view message, bytes_view sig, bytes_view key) noexcept {
  return verify_bittensor_with(message, sig, key);
}

std::shared_ptr<const verifying_key> verifying_key::make(const public_key& key) noexcept {
  detail::ensure_sodium();
  if (sodium_is_zero(key.data(), key.size()) != 0) return nullptr;
  auto tables = vartime::make_key_tables(key);
  if (!tables) return nullptr;
  try {
    return std::shared_ptr<const verifying_key>(new verifying_key(key, std::move(tables)));
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

std::size_t verifying_key::memory_bytes() noexcept {
  return sizeof(verifying_key) + vartime::key_tables_bytes();
}

verify_result verify_detailed(std::initializer_list<bytes_view> message, bytes_view sig,
                              const verifying_key& key) noexcept {
  std::array<std::uint8_t, 32> s{};
  std::array<std::uint8_t, 32> k{};
  if (const auto refused = precheck(message, sig, key.bytes(), s, k)) return *refused;
  return compare_r(vartime::base_mul_sub(s, k, key.tables()), sig);
}

bool verify_bittensor(bytes_view message, bytes_view sig, const verifying_key& key) noexcept {
  return verify_bittensor_with(message, sig, key);
}

bool verify_bittensor_batch(std::span<const signed_message> items, const verifying_key& key,
                            std::span<bool> verdicts) noexcept {
  if (verdicts.size() != items.size()) return false;
  bool held = true;
  for (std::size_t start = 0; start < items.size(); start += vartime::max_batch_terms) {
    const std::size_t n = std::min(vartime::max_batch_terms, items.size() - start);
    // sum(z_i*s_i)*B - sum(z_i*k_i)*A - sum(z_i*R_i) = 0 holds, but for a chance of 2^-128,
    // exactly when every s_i*B - k_i*A = R_i does. A malformed item fails the batch.
    std::array<vartime::batch_term, vartime::max_batch_terms> terms{};
    std::array<std::uint8_t, 32> s_sum{};
    std::array<std::uint8_t, 32> k_sum{};
    bool usable = n > 1;
    for (std::size_t i = 0; i < n && usable; ++i) {
      const auto& item = items[start + i];
      std::array<std::uint8_t, 32> s{};
      std::array<std::uint8_t, 32> k{};
      if (precheck({item.message}, item.sig, key.bytes(), s, k)) {
        usable = false;
        break;
      }
      auto& term = terms[i];
      pooled_random_bytes(std::span(term.z).first(16));  // a weight below 2^128
      std::memcpy(term.r.data(), item.sig.data(), 32);
      std::array<std::uint8_t, 32> zs{};
      std::array<std::uint8_t, 32> zk{};
      crypto_core_ristretto255_scalar_mul(zs.data(), term.z.data(), s.data());
      crypto_core_ristretto255_scalar_mul(zk.data(), term.z.data(), k.data());
      crypto_core_ristretto255_scalar_add(s_sum.data(), s_sum.data(), zs.data());
      crypto_core_ristretto255_scalar_add(k_sum.data(), k_sum.data(), zk.data());
    }
    if (usable &&
        vartime::batch_is_identity(s_sum, k_sum, key.tables(), std::span(terms).first(n))) {
      std::fill_n(verdicts.begin() + static_cast<std::ptrdiff_t>(start), n, true);
      continue;
    }
    held = false;
    for (std::size_t i = start; i < start + n; ++i) {
      verdicts[i] = verify_bittensor(items[i].message, items[i].sig, key);
    }
  }
  return held;
}

}  // namespace bettensor::crypto
