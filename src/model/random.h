#pragma once
// Private: the counter-based random numbers of dropout. A mask element is a pure function of
// (seed, element index), so masks do not depend on how work is split across threads, and a
// backward pass can regenerate a mask instead of storing it.

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>

#include <cmath>
#include <cstdint>
#include <mutex>

namespace mmaux::model::detail {

/// splitmix64's output function: a bijective 64-bit mix whose outputs for consecutive inputs
/// pass BigCrush (Steele, Lea, Flood 2014).
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// One draw from libtorch's default CPU generator: masks follow torch::manual_seed and the
/// generator state saved in checkpoints.
inline uint64_t draw_seed() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
}

/// Element `index` is kept when the top 32 bits of its mix are >= this (probability 1 − p,
/// exact to 2⁻³²).
inline uint64_t keep_threshold(double p) { return static_cast<uint64_t>(std::ldexp(p, 32)); }

inline bool keep(uint64_t seed, uint64_t index, uint64_t threshold) {
  return (mix64(seed + index * 0x9e3779b97f4a7c15ULL) >> 32) >= threshold;
}

}  // namespace mmaux::model::detail
