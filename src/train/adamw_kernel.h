#pragma once
// Private: the element loop of the fused AdamW update, in its own translation unit (no libtorch
// headers) so that it can be compiled for vector units: see adamw_kernel.cpp.

#include <cstdint>

namespace mmaux::train::detail {

template <typename T>
struct AdamWCoefficients {
  T decay;  ///< p ← p · decay when `apply_decay`
  T beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
  T sqrt_bc2;   ///< sqrt(1 − β₂ᵗ)
  T step_size;  ///< −lr / (1 − β₁ᵗ)
  bool apply_decay;
};

/// Elements [0, n) of one parameter: p, m, v updated in place from g, with the arithmetic of
/// libtorch's op sequence p·decay; m·β₁ + (1−β₁)g; v·β₂ + (1−β₂)g·g;
/// p + step·m / (sqrt(v)/sqrt_bc2 + eps), in T, in that order.
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n,
                  const AdamWCoefficients<float>& c);
void adamw_update(double* p, const double* g, double* m, double* v, int64_t n,
                  const AdamWCoefficients<double>& c);

/// Whether x[0, n) are all zero (±0).
bool all_zero(const float* x, int64_t n);
bool all_zero(const double* x, int64_t n);

/// x[0, n) ← x · factor.
void scale(float* x, int64_t n, float factor);
void scale(double* x, int64_t n, double factor);

}  // namespace mmaux::train::detail
