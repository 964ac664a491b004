#pragma once
// One computation of every collective loss (CE with its global normaliser, ITC over gathered
// negatives, the hard ITM plan, the ITM loss) on this rank's part of a fixed global batch, for
// the tests that compare world sizes (test_collective_losses) and harnesses (test_thread_vs_mpi).
#include <ATen/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mmaux/dist/communicator.h"

namespace mmaux::testing {

struct LossOutput {
  LossOutput(std::string output_name, at::Tensor output, bool rows = false)
      : name(std::move(output_name)), value(std::move(output)), per_row(rows) {}
  std::string name;
  at::Tensor value;
  /// true: rows of the global batch (this rank's slice); false: one value, the same on every
  /// rank (a mean over ranks).
  bool per_row = false;
};

/// Rows of the global batch.
constexpr int64_t kLossRows = 12;

/// Rows held by each rank of a world of `w`: 12 / w each, or unequal (q + 1 rows on rank q < w - 1,
/// the rest on the last rank).
std::vector<int64_t> loss_row_counts(int w, bool unequal);

/// Losses, gradients and ITM draws of this rank, in global terms: means over ranks of the loss
/// terms, the global loss's gradient for this rank's rows, this rank's rows of the ITM plan.
/// Collective.
std::vector<LossOutput> compute_losses(dist::Communicator& comm, bool unequal);

/// `reference` (compute_losses at world size 1) cut to the rows [offset, offset + rows).
std::vector<LossOutput> reference_slice(const std::vector<LossOutput>& reference, int64_t offset,
                                        int64_t rows);

/// Compares outputs by name: equal for integer tensors, within `rtol` (relative to the larger
/// magnitude, 1e-300 floor) for floating ones. "" when they agree, else what differs.
std::string compare_outputs(const std::vector<LossOutput>& got,
                            const std::vector<LossOutput>& expected, double rtol);

}  // namespace mmaux::testing
