#pragma once
/// Stable hashing and seeded random numbers shared by every area: splitmix64 mixing, a seeded
/// generator, a fast 64-bit hash of byte ranges, FNV-1a, and SHA-256 (OpenSSL's libcrypto, which
/// uses the CPU's SHA instructions: shards are hashed at about 1 GB/s).
///
/// Every value here is part of a file format or a cross-rank check (shard splits, synthetic data,
/// data orders, ITM negatives, parameter fingerprints, checkpoint digests): the same input gives
/// the same value on every platform, standard library, build and rank. tests/unit/core pins them;
/// changing one is a format change.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace mmaux {

/// splitmix64 finaliser applied to x + golden ratio: a bijective mix of 64 bits.
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// Continues hash `h` over `n` bytes at `data`, 8 bytes at a time (not cryptographic).
inline uint64_t hash_bytes(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001B3ULL;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  if (i < n) std::memcpy(&tail, p + i, n - i);
  h = (h ^ tail ^ (static_cast<uint64_t>(n) << 56)) * 0x100000001B3ULL;
  return mix64(h);
}

/// Mixes `v` into hash `h`.
inline uint64_t hash_combine(uint64_t h, uint64_t v) { return mix64(h ^ mix64(v)); }

/// 64-bit FNV-1a of the bytes of `text`.
inline uint64_t fnv1a64(std::string_view text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return h;
}

/// A small, portable random generator (splitmix64). std::shuffle and the std distributions are
/// implementation-defined, so orders and synthetic data would differ between standard
/// libraries; this one gives the same numbers everywhere.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  /// The next 64 random bits: mix64 of the state before it advances by the golden ratio.
  uint64_t next() {
    const uint64_t z = mix64(state_);
    state_ += 0x9E3779B97F4A7C15ULL;
    return z;
  }
  /// Uniform in [0, bound), bound > 0 (rejection sampling, no modulo bias).
  uint64_t below(uint64_t bound) {
    const uint64_t limit = ~uint64_t(0) - (~uint64_t(0) % bound);
    uint64_t v;
    do {
      v = next();
    } while (v >= limit);
    return v % bound;
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  uint64_t state_;
};

/// Combines seeds into one well-mixed 64-bit seed.
inline uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c = 0) {
  const uint64_t x = SplitMix64(a ^ 0x5851f42d4c957f2dULL).next() ^ b;
  const uint64_t y = SplitMix64(x).next() ^ c;
  return SplitMix64(y).next();
}

/// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  /// Lower-case hex digest; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  void* ctx_;  ///< EVP_MD_CTX
};

/// Lower-case hex SHA-256 of `text`.
std::string sha256_hex(std::string_view text);

/// Lower-case hex SHA-256 of a file's bytes; throws DataError naming the file when it cannot be
/// read.
std::string sha256_file(const std::string& path);

}  // namespace mmaux
