// The AdamW element loop, compiled for AVX-512, AVX2 and baseline x86-64 (picked at load time
// by GCC's target_clones) with -O3 -fno-math-errno so that sqrt and division vectorise, and with
// -ffp-contract=off so that no clone fuses a multiply and an add: every clone rounds exactly
// like the scalar code (IEEE sqrt and division are correctly rounded at any width), so results
// do not depend on the machine a run resumes on. Compile options: src/train/CMakeLists.txt.
#include "adamw_kernel.h"

#include <cmath>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MMAUX_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MMAUX_VECTOR_CLONES
#endif

namespace mmaux::train::detail {

namespace {

template <typename T>
inline void update(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                   int64_t n, const AdamWCoefficients<T>& c) {
  const T decay = c.apply_decay ? c.decay : T(1);
  for (int64_t i = 0; i < n; ++i) {
    const T pi = c.apply_decay ? p[i] * decay : p[i];
    const T gi = g[i];
    const T mi = m[i] * c.beta1 + c.one_minus_beta1 * gi;
    const T vi = v[i] * c.beta2 + c.one_minus_beta2 * gi * gi;
    const T denom = std::sqrt(vi) / c.sqrt_bc2 + c.eps;
    p[i] = pi + c.step_size * mi / denom;
    m[i] = mi;
    v[i] = vi;
  }
}

template <typename T>
inline bool zero(const T* __restrict x, int64_t n) {
  bool nonzero = false;
  for (int64_t i = 0; i < n; ++i) nonzero |= x[i] != T(0);
  return !nonzero;
}

template <typename T>
inline void multiply(T* __restrict x, int64_t n, T factor) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] * factor;
}

}  // namespace

MMAUX_VECTOR_CLONES
bool all_zero(const float* x, int64_t n) { return zero(x, n); }
MMAUX_VECTOR_CLONES
bool all_zero(const double* x, int64_t n) { return zero(x, n); }
MMAUX_VECTOR_CLONES
void scale(float* x, int64_t n, float factor) { multiply(x, n, factor); }
MMAUX_VECTOR_CLONES
void scale(double* x, int64_t n, double factor) { multiply(x, n, factor); }

MMAUX_VECTOR_CLONES
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n,
                  const AdamWCoefficients<float>& c) {
  update(p, g, m, v, n, c);
}

MMAUX_VECTOR_CLONES
void adamw_update(double* p, const double* g, double* m, double* v, int64_t n,
                  const AdamWCoefficients<double>& c) {
  update(p, g, m, v, n, c);
}

}  // namespace mmaux::train::detail
