#pragma once
// Private: a fast, stable 64-bit hash of byte ranges (parameter hashes, content keys of rows).
// Stable across processes and builds: the same bytes give the same value on every rank.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mmaux::dist::detail {

/// splitmix64 finaliser: a bijective mix of 64 bits.
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// Continues hash `h` over `n` bytes at `data`, 8 bytes at a time.
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

inline uint64_t hash_combine(uint64_t h, uint64_t v) { return mix64(h ^ mix64(v)); }

}  // namespace mmaux::dist::detail
