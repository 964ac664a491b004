#pragma once
// Private: a small, portable random generator (splitmix64). std::shuffle and the std
// distributions are implementation-defined, so orders and synthetic data would differ between
// standard libraries; this one gives the same numbers everywhere.
#include <cstdint>

namespace mmaux::data::detail {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, bound), bound > 0 (rejection sampling, no modulo bias).
  uint64_t below(uint64_t bound) {
    uint64_t limit = ~uint64_t(0) - (~uint64_t(0) % bound);
    uint64_t v;
    do {
      v = next();
    } while (v >= limit);
    return v % bound;
  }
  /// Uniform in [0, 1).
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  uint64_t state_;
};

/// Combines seeds into one well-mixed 64-bit seed.
inline uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c = 0) {
  SplitMix64 r(a ^ 0x5851f42d4c957f2dULL);
  uint64_t x = r.next() ^ b;
  SplitMix64 r2(x);
  uint64_t y = r2.next() ^ c;
  SplitMix64 r3(y);
  return r3.next();
}

}  // namespace mmaux::data::detail
