// Reconnect delays for the miner: after the n-th consecutive failure wait a uniformly random time
// in [0, min(max, base * 2^n)] ("full jitter"), so many miners losing one validator at the same
// moment do not all come back at the same moment. A good handshake resets n to 0.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <stdexcept>

namespace bettensor::transport {

class backoff {
 public:
  using duration = std::chrono::milliseconds;

  /// Throws std::invalid_argument unless 0 < base <= max.
  backoff(duration base, duration max) : base_(base), max_(max) {
    if (base.count() <= 0 || max < base) {
      throw std::invalid_argument("reconnect intervals need 0 < base <= max");
    }
  }

  /// min(max, base * 2^failures), without overflow for any number of failures.
  [[nodiscard]] duration ceiling(unsigned failures) const {
    duration d = base_;
    for (unsigned i = 0; i < failures && d < max_; ++i) d = std::min(max_, d * 2);
    return std::min(d, max_);
  }

  /// A jittered delay in [0, ceiling(failures)].
  template <class Rng>
  [[nodiscard]] duration delay(unsigned failures, Rng& rng) const {
    std::uniform_int_distribution<std::int64_t> pick(0, ceiling(failures).count());
    return duration(pick(rng));
  }

 private:
  duration base_;
  duration max_;
};

}  // namespace bettensor::transport
