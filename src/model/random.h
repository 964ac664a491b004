#pragma once
// Private: the counter-based random numbers of dropout. A mask element is a pure function of
// (seed, element index) (dropout_kernel.h), so masks do not depend on how work is split across
// threads, and a backward pass regenerates a mask instead of storing it.

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cmath>
#include <cstdint>
#include <mutex>
#include <vector>

#include "dropout_kernel.h"
#include "mmaux/core/error.h"
#include "mmaux/model/dropout_rows.h"

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

/// The global rows that key the mask of a dropout call on `x` (model::DropoutRows): empty when
/// no scope is open or its rows are 0, 1, …, b − 1 (the element index is then the counter).
inline std::vector<int64_t> keyed_rows(const at::Tensor& x) {
  const std::vector<int64_t>* rows = DropoutRows::current();
  if (rows == nullptr) return {};
  const auto b = static_cast<int64_t>(rows->size());
  MMAUX_ASSERT(x.dim() >= 1 && x.size(0) == b,
               "dropout on a tensor of shape [{}] inside a DropoutRows scope of {} rows: the "
               "model applies dropout to a tensor whose dim 0 is not the batch",
               fmt::join(x.sizes(), ", "), b);
  for (int64_t r = 0; r < b; ++r) {
    if ((*rows)[static_cast<size_t>(r)] != r) return *rows;
  }
  return {};
}

/// Counter of the first element of batch row r (of `row_size` elements): rows[r] · row_size
/// when keyed, r · row_size otherwise.
inline uint64_t row_base(const std::vector<int64_t>& rows, int64_t r, int64_t row_size) {
  const int64_t row = rows.empty() ? r : rows[static_cast<size_t>(r)];
  return static_cast<uint64_t>(row) * static_cast<uint64_t>(row_size);
}

}  // namespace mmaux::model::detail
