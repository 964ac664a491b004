#pragma once
/// The main-task loss: weighted cross entropy whose normaliser is global, so that the mean over
/// ranks of the per-rank terms (and of their gradients, as GradSync averages them) equals the
/// loss of one process on the global batch (METHOD.md §1, CE).

#include <ATen/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mmaux/config/loss_options.h"
#include "mmaux/dist/communicator.h"

namespace mmaux::loss {

/// kBatch: divide the weighted sum by the global row count N (paper). kWeights: divide by the
/// global sum of the target classes' weights (index-target weighted cross entropy).
using mmaux::CeNorm;

/// "Balanced" class weights w_c = N / (C · n_c) from per-class counts of the training split
/// (float64 [C] on the CPU). A class with no example gets weight 0 (it never is a target).
/// Throws DataError when every count is zero.
at::Tensor balanced_class_weights(const std::vector<int64_t>& class_counts);

/// The two sums the loss is made of, over the given rows: Σ w_y · (−log softmax(logits)_y) and
/// the rows' share of the normaliser D (their count for kBatch, Σ w_y for kWeights). Scalars on
/// the device of logits: the first in their dtype, with its graph; the second float64, detached.
/// Summed over any partition of the rows (ranks, batches), sum / normaliser is the loss of all of
/// them. Not collective.
struct CeSums {
  at::Tensor weighted_nll;
  at::Tensor normaliser;
};
CeSums cross_entropy_sums(const at::Tensor& logits, const at::Tensor& labels,
                          const at::Tensor& class_weights, CeNorm norm);

/// This rank's term of L = Σ_global w_y · (−log softmax(logits)_y) / D, namely
/// W · Σ_local w_y ℓ / D, with D = N (kBatch) or Σ_global w_y (kWeights) all-reduced over ranks
/// (a detached constant, as in one process).
///
/// logits: [b, C] floating (any b >= 0, also 0); labels: int64 [b] in [0, C); class_weights:
/// [C] or undefined (all ones); everything on comm.device(). `global_rows`: N when the caller
/// knows it (kBatch skips its all-reduce); -1 = all-reduce. Collective (one scalar all-reduce
/// unless skipped). Returns a scalar in the dtype of logits.
at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& labels,
                         const at::Tensor& class_weights, CeNorm norm, dist::Communicator& comm,
                         int64_t global_rows = -1);

}  // namespace mmaux::loss
