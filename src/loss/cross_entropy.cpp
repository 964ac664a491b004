#include "mmaux/loss/cross_entropy.h"

#include <ATen/ATen.h>

#include "mmaux/core/error.h"

namespace mmaux::loss {

at::Tensor balanced_class_weights(const std::vector<int64_t>& class_counts) {
  MMAUX_CHECK_DATA(!class_counts.empty(), "balanced class weights need at least one class");
  int64_t total = 0;
  for (int64_t c : class_counts) {
    MMAUX_CHECK_DATA(c >= 0, "class count {} is negative", c);
    total += c;
  }
  MMAUX_CHECK_DATA(total > 0,
                   "balanced class weights: the training split has no labelled example; check "
                   "the data set's labels or use loss.class-weights=none");
  const auto classes = static_cast<double>(class_counts.size());
  at::Tensor w = at::zeros({static_cast<int64_t>(class_counts.size())}, at::kDouble);
  for (size_t c = 0; c < class_counts.size(); ++c) {
    if (class_counts[c] > 0) {
      w[static_cast<int64_t>(c)] =
          static_cast<double>(total) / (classes * static_cast<double>(class_counts[c]));
    }
  }
  return w;
}

CeSums cross_entropy_sums(const at::Tensor& logits, const at::Tensor& labels,
                          const at::Tensor& class_weights, CeNorm norm) {
  MMAUX_CHECK(logits.dim() == 2, "cross_entropy: logits must be [b, C], got {} dims", logits.dim());
  MMAUX_CHECK(labels.dim() == 1 && labels.size(0) == logits.size(0),
              "cross_entropy: labels must be [{}], got {} elements", logits.size(0),
              labels.numel());
  const int64_t classes = logits.size(1);
  if (class_weights.defined()) {
    MMAUX_CHECK(class_weights.dim() == 1 && class_weights.size(0) == classes,
                "cross_entropy: {} class weights for {} classes", class_weights.numel(), classes);
  }
  at::Tensor target = labels.to(at::kLong);
  at::Tensor nll = -at::log_softmax(logits, 1).gather(1, target.unsqueeze(1)).squeeze(1);
  at::Tensor w;
  if (class_weights.defined()) {
    w = class_weights.to(logits.device(), logits.scalar_type()).index_select(0, target);
  } else {
    w = at::ones_like(nll);
  }
  at::Tensor normaliser =
      norm == CeNorm::kBatch
          ? at::full({}, static_cast<double>(logits.size(0)),
                     at::TensorOptions().dtype(at::kDouble).device(logits.device()))
          : w.detach().sum().to(at::kDouble);
  return CeSums{(w * nll).sum(), normaliser};
}

at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& labels,
                         const at::Tensor& class_weights, CeNorm norm, dist::Communicator& comm,
                         int64_t global_rows) {
  CeSums sums = cross_entropy_sums(logits, labels, class_weights, norm);
  // The normaliser is a detached global constant, exactly as in one process.
  at::Tensor denom;
  if (norm == CeNorm::kBatch && global_rows >= 0) {
    denom = at::full({}, static_cast<double>(global_rows), logits.options().requires_grad(false));
  } else {
    at::Tensor d = sums.normaliser.reshape({1}).to(comm.device());
    comm.all_reduce(d, dist::ReduceOp::kSum);
    denom = d.reshape({}).to(logits.scalar_type());
  }
  // An empty global batch (or all-zero weights) contributes nothing instead of 0/0.
  denom = at::where(denom > 0, denom, at::ones_like(denom));
  return sums.weighted_nll * static_cast<double>(comm.world_size()) / denom;
}

}  // namespace mmaux::loss
