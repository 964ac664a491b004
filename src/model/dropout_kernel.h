#pragma once
// Private: the element loop of dropout, in its own translation unit (no libtorch headers) so that
// it can be compiled for vector units: see dropout_kernel.cpp.

#include <cstdint>

namespace mmaux::model::detail {

/// The counter-based keep decision: element `index` of a mask drawn with `seed` is kept when
/// keep_hash(seed, index) >= threshold (threshold = p·2³², so the keep probability is 1 − p to
/// within 2⁻³²). Two rounds of MurmurHash3's 32-bit finaliser over the index's low word, keyed by
/// the seed and the index's high word; 32-bit multiplies vectorise on AVX2.
inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

inline uint32_t keep_hash(uint64_t seed, uint64_t index) {
  const uint32_t key_lo = static_cast<uint32_t>(seed), key_hi = static_cast<uint32_t>(seed >> 32);
  const uint32_t hi = fmix32(static_cast<uint32_t>(index >> 32) ^ key_hi);
  return fmix32(fmix32(static_cast<uint32_t>(index) * 0x9e3779b1u ^ key_lo) ^ hi);
}

/// out[i] = in[i] · scale where element base + i is kept, else 0, for i in [0, n). out may be in.
void dropout_scale(float* out, const float* in, int64_t n, uint64_t seed, uint64_t base,
                   uint32_t threshold, float scale);
void dropout_scale(double* out, const double* in, int64_t n, uint64_t seed, uint64_t base,
                   uint32_t threshold, double scale);

}  // namespace mmaux::model::detail
