// The dropout element loop, compiled for AVX-512, AVX2 and baseline x86-64 (GCC target_clones)
// with -O3; the arithmetic is integer hashing and one multiply per element, so every clone gives
// the same bits. Compile options: src/model/CMakeLists.txt.
#include "dropout_kernel.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MMAUX_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MMAUX_VECTOR_CLONES
#endif

namespace mmaux::model::detail {

namespace {

template <typename T>
inline void apply(T* out, const T* in, int64_t n, uint64_t seed, uint64_t base, uint32_t threshold,
                  T scale) {
  for (int64_t i = 0; i < n; ++i) {
    const bool kept = keep_hash(seed, base + static_cast<uint64_t>(i)) >= threshold;
    out[i] = kept ? in[i] * scale : T(0);
  }
}

}  // namespace

MMAUX_VECTOR_CLONES
void dropout_scale(float* out, const float* in, int64_t n, uint64_t seed, uint64_t base,
                   uint32_t threshold, float scale) {
  apply(out, in, n, seed, base, threshold, scale);
}

MMAUX_VECTOR_CLONES
void dropout_scale(double* out, const double* in, int64_t n, uint64_t seed, uint64_t base,
                   uint32_t threshold, double scale) {
  apply(out, in, n, seed, base, threshold, scale);
}

}  // namespace mmaux::model::detail
