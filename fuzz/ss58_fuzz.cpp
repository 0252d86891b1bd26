// Fuzzes SS58 decoding. Invariant: an address that decodes re-encodes to the same text.
#include <cstdlib>

#include "bettensor/crypto/ss58.hpp"

using namespace bettensor;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto decoded = crypto::ss58_decode(text);
  if (decoded && crypto::ss58_encode(decoded->key, decoded->prefix) != text) std::abort();
  (void)crypto::base58_decode(text);
  return 0;
}
