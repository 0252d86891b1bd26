// Merlin transcripts over STROBE-128, exactly the subset schnorrkel (sr25519) uses.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

#include "bettensor/crypto/bytes.hpp"
#include "bettensor/crypto/keccak.hpp"

namespace bettensor::crypto {

/// STROBE-128 duplex construction (rate 166 bytes) with the four operations Merlin needs.
class strobe128 {
 public:
  static constexpr std::uint8_t rate = 166;

  explicit strobe128(bytes_view protocol_label) noexcept;
  strobe128(const strobe128&) = default;
  strobe128& operator=(const strobe128&) = default;
  ~strobe128();

  void meta_ad(bytes_view data, bool more) noexcept;
  void ad(bytes_view data, bool more) noexcept;
  void prf(std::span<std::uint8_t> out, bool more) noexcept;
  void key(bytes_view data, bool more) noexcept;

  /// The 200 state bytes (lanes little-endian), for test vectors.
  [[nodiscard]] std::span<const std::uint8_t, 200> state_bytes() const noexcept;
  [[nodiscard]] std::uint8_t pos() const noexcept { return pos_; }
  [[nodiscard]] std::uint8_t pos_begin() const noexcept { return pos_begin_; }
  [[nodiscard]] std::uint8_t cur_flags() const noexcept { return cur_flags_; }

 private:
  std::uint8_t* bytes() noexcept;
  void begin_op(std::uint8_t flags, bool more) noexcept;
  void absorb(bytes_view data) noexcept;
  void overwrite(bytes_view data) noexcept;
  void squeeze(std::span<std::uint8_t> out) noexcept;
  void run_f() noexcept;

  keccak_state state_{};
  std::uint8_t pos_ = 0;
  std::uint8_t pos_begin_ = 0;
  std::uint8_t cur_flags_ = 0;
};

/// A Merlin transcript: labelled messages in, labelled challenges out.
class transcript {
 public:
  explicit transcript(std::string_view label) noexcept;

  void append_message(std::string_view label, bytes_view message) noexcept;
  /// Appends one message given in several pieces, as if they were concatenated.
  void append_message(std::string_view label, std::initializer_list<bytes_view> pieces) noexcept;
  void append_u64(std::string_view label, std::uint64_t value) noexcept;
  void challenge_bytes(std::string_view label, std::span<std::uint8_t> out) noexcept;

  /// Merlin's TranscriptRng on a copy of this transcript: rekeyed with each secret seed under
  /// `label`, finalised with 32 bytes of external randomness, then one fill of `out`.
  /// The transcript itself is unchanged.
  void witness_bytes(std::string_view label, std::initializer_list<bytes_view> seeds,
                     std::span<const std::uint8_t, 32> random,
                     std::span<std::uint8_t> out) const noexcept;

 private:
  strobe128 strobe_;
};

}  // namespace bettensor::crypto
