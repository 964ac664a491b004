#pragma once
// Private: the counter-based random numbers of dropout. A mask element is a pure function of
// (seed, element index) (dropout_kernel.h), so masks do not depend on how work is split across
// threads, and a backward pass regenerates a mask instead of storing it.

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>

#include <cmath>
#include <cstdint>
#include <mutex>

#include "dropout_kernel.h"

namespace mmaux::model::detail {

/// One draw from libtorch's default CPU generator: masks follow torch::manual_seed and the
/// generator state saved in checkpoints.
inline uint64_t draw_seed() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
}

/// keep_hash threshold for dropout probability p: p·2³², clamped to 32 bits.
inline uint32_t keep_threshold(double p) {
  const double t = std::floor(std::ldexp(p, 32));
  return t >= 4294967295.0 ? 0xffffffffu : static_cast<uint32_t>(t);
}

inline bool keep(uint64_t seed, uint64_t index, uint32_t threshold) {
  return keep_hash(seed, index) >= threshold;
}

}  // namespace mmaux::model::detail
