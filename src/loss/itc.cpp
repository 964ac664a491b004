#include "mmaux/loss/itc.h"

#include <ATen/ATen.h>

#include "mmaux/core/error.h"
#include "mmaux/dist/all_gather.h"

namespace mmaux::loss {
namespace {

at::Tensor l2_normalise(const at::Tensor& x) {
  // As torch.nn.functional.normalize: x / max(||x||, 1e-12).
  return x / x.norm(2, {1}, true).clamp_min(1e-12);
}

/// Σ over rows of −log softmax(logits)[row, label].
at::Tensor summed_ce(const at::Tensor& logits, const at::Tensor& labels) {
  return -at::log_softmax(logits, 1).gather(1, labels.unsqueeze(1)).sum();
}

}  // namespace

ItcResult itc_loss(const at::Tensor& text, const at::Tensor& image, const at::Tensor& logit_scale,
                   dist::Communicator& comm, const ItcOptions& options) {
  MMAUX_CHECK(text.dim() == 2 && image.dim() == 2 && text.sizes() == image.sizes(),
              "itc_loss: text [{}] and image [{}] must both be [b, d]",
              fmt::join(text.sizes(), ", "), fmt::join(image.sizes(), ", "));
  MMAUX_CHECK(logit_scale.numel() == 1, "itc_loss: logit_scale must be a scalar, has {} elements",
              logit_scale.numel());
  ItcResult r;
  const int64_t b = text.size(0);
  r.counts = options.counts.empty() ? dist::gather_counts(b, comm) : options.counts;
  MMAUX_CHECK(static_cast<int>(r.counts.size()) == comm.world_size() && r.counts[comm.rank()] == b,
              "itc_loss: counts do not match this rank's {} rows", b);
  for (int q = 0; q < comm.world_size(); ++q) {
    if (q < comm.rank()) r.row_offset += r.counts[q];
    r.global_rows += r.counts[q];
  }
  at::Tensor t = l2_normalise(text);
  at::Tensor v = l2_normalise(image);
  // Columns: every rank's vectors, gathered WITH gradient (backward: sum reduce-scatter). Rows:
  // this rank's own vectors, used directly so that their gradient stays local.
  at::Tensor t_all = dist::all_gather_with_grad(t, comm, r.counts);
  at::Tensor v_all = dist::all_gather_with_grad(v, comm, r.counts);
  at::Tensor s = logit_scale.reshape({});
  if (options.clamp_logit_scale) s = s.clamp_max(kMaxLogitScale);
  at::Tensor scale = s.exp();
  at::Tensor sim_i2t = scale * v.matmul(t_all.t());
  at::Tensor sim_t2i = scale * t.matmul(v_all.t());
  at::Tensor labels = at::arange(r.row_offset, r.row_offset + b,
                                 at::TensorOptions().dtype(at::kLong).device(text.device()));
  at::Tensor sum = summed_ce(sim_i2t, labels) + summed_ce(sim_t2i, labels);
  const double norm =
      r.global_rows > 0 ? static_cast<double>(comm.world_size()) / (2.0 * r.global_rows) : 0.0;
  r.loss = sum * norm;
  r.sim_i2t = sim_i2t.detach();
  r.sim_t2i = sim_t2i.detach();
  return r;
}

}  // namespace mmaux::loss
