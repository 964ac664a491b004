#pragma once
/// Mixed-precision autocast for the forward passes of a training or benchmark step, with
/// torch.autocast's semantics: on entry the device type's autocast is enabled with `dtype`
/// (nesting counted); on exit the previous enabled flag and dtype come back and, when the
/// outermost scope closes, the cache of casted weights is cleared. Call backward() after the
/// scope has closed (as with torch.autocast). Works with libtorch 1.13 and 2.x (the device-typed
/// API of libtorch >= 2.4, the CUDA-only one before). Autocast state is thread-local in libtorch:
/// a scope affects the calling thread only.

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>

namespace mmaux::train {

class AutocastScope {
 public:
  /// Enables autocast for CUDA with `dtype` when `on` is true; does nothing otherwise (a CPU run,
  /// or bf16 off). Only CUDA is supported: CPU autocast is never enabled by mmaux.
  explicit AutocastScope(bool on, c10::ScalarType dtype = c10::ScalarType::BFloat16);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

  /// Whether CUDA autocast is enabled on this thread now.
  static bool cuda_enabled();
  /// CUDA autocast's dtype on this thread now.
  static c10::ScalarType cuda_dtype();

 private:
  bool on_ = false;
  bool previous_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::ScalarType::Half;
};

}  // namespace mmaux::train
