// libsodium must be initialised once before its RNG and group operations are used.
#pragma once

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace bettensor::crypto::detail {

inline void ensure_sodium() noexcept {
  static const bool ready = [] {
    if (sodium_init() < 0) {
      std::fputs("fatal: libsodium could not be initialised\n", stderr);
      std::abort();
    }
    return true;
  }();
  (void)ready;
}

}  // namespace bettensor::crypto::detail
