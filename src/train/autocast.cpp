#include "mmaux/train/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

// libtorch 2.4 made autocast's functions device-typed and deprecated the CUDA-only ones
// (set_enabled, set_autocast_gpu_dtype), which warn at every call there.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define MMAUX_AUTOCAST_DEVICE_API 1
#else
#define MMAUX_AUTOCAST_DEVICE_API 0
#endif

namespace mmaux::train {
namespace {

void set_cuda(bool enabled, c10::ScalarType dtype) {
#if MMAUX_AUTOCAST_DEVICE_API
  at::autocast::set_autocast_dtype(c10::DeviceType::CUDA, dtype);
  at::autocast::set_autocast_enabled(c10::DeviceType::CUDA, enabled);
#else
  at::autocast::set_autocast_gpu_dtype(dtype);
  at::autocast::set_enabled(enabled);
#endif
}

}  // namespace

bool AutocastScope::cuda_enabled() {
#if MMAUX_AUTOCAST_DEVICE_API
  return at::autocast::is_autocast_enabled(c10::DeviceType::CUDA);
#else
  return at::autocast::is_enabled();
#endif
}

c10::ScalarType AutocastScope::cuda_dtype() {
#if MMAUX_AUTOCAST_DEVICE_API
  return at::autocast::get_autocast_dtype(c10::DeviceType::CUDA);
#else
  return at::autocast::get_autocast_gpu_dtype();
#endif
}

AutocastScope::AutocastScope(bool on, c10::ScalarType dtype) : on_(on) {
  if (!on_) return;
  previous_enabled_ = cuda_enabled();
  previous_dtype_ = cuda_dtype();
  set_cuda(true, dtype);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!on_) return;
  // The casted-weight cache lives as long as the outermost scope (torch.autocast's __exit__).
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_cuda(previous_enabled_, previous_dtype_);
}

}  // namespace mmaux::train
