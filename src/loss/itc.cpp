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

namespace {

/// Counts per block, global offsets and N (fills r's layout fields).
std::vector<std::vector<int64_t>> block_layout(const std::vector<int64_t>& blocks,
                                               const ItcOptions& options, dist::Communicator& comm,
                                               ItcResult& r) {
  std::vector<std::vector<int64_t>> counts;
  r.counts.assign(static_cast<size_t>(comm.world_size()), 0);
  for (int64_t rows : blocks) {
    MMAUX_CHECK(rows >= 0, "itc_loss: a block has {} rows", rows);
    counts.push_back(blocks.size() == 1 && !options.counts.empty()
                         ? options.counts
                         : dist::gather_counts(rows, comm));
    const std::vector<int64_t>& c = counts.back();
    MMAUX_CHECK(static_cast<int>(c.size()) == comm.world_size() && c[comm.rank()] == rows,
                "itc_loss: counts do not match this rank's {} rows", rows);
    int64_t offset = r.global_rows;
    for (int q = 0; q < comm.world_size(); ++q) {
      if (q < comm.rank()) offset += c[q];
      r.global_rows += c[q];
      r.counts[q] += c[q];
    }
    r.block_offsets.push_back(offset);
    r.block_rows.push_back(rows);
  }
  r.row_offset = r.block_offsets.front();
  return counts;
}

/// Every rank's rows of every block, in global order, gathered WITH gradient.
at::Tensor gather_columns(const at::Tensor& x, const std::vector<std::vector<int64_t>>& counts,
                          const std::vector<int64_t>& blocks, dist::Communicator& comm) {
  if (blocks.size() == 1) return dist::all_gather_with_grad(x, comm, counts[0]);
  std::vector<at::Tensor> parts;
  int64_t start = 0;
  for (size_t j = 0; j < blocks.size(); ++j) {
    parts.push_back(dist::all_gather_with_grad(x.narrow(0, start, blocks[j]), comm, counts[j]));
    start += blocks[j];
  }
  return at::cat(parts);
}

}  // namespace

ItcResult itc_loss(const at::Tensor& text, const at::Tensor& image, const at::Tensor& logit_scale,
                   dist::Communicator& comm, const ItcOptions& options) {
  MMAUX_CHECK(text.dim() == 2 && image.dim() == 2 && text.sizes() == image.sizes(),
              "itc_loss: text [{}] and image [{}] must both be [b, d]",
              fmt::join(text.sizes(), ", "), fmt::join(image.sizes(), ", "));
  MMAUX_CHECK(logit_scale.numel() == 1, "itc_loss: logit_scale must be a scalar, has {} elements",
              logit_scale.numel());
  const int64_t b = text.size(0);
  const std::vector<int64_t> blocks =
      options.blocks.empty() ? std::vector<int64_t>{b} : options.blocks;
  int64_t in_blocks = 0;
  for (int64_t rows : blocks) in_blocks += rows;
  MMAUX_CHECK(in_blocks == b, "itc_loss: blocks of {} rows in all for {} rows", in_blocks, b);
  MMAUX_CHECK(options.counts.empty() || blocks.size() == 1,
              "itc_loss: counts are gathered when the rows come in {} blocks", blocks.size());
  ItcResult r;
  const std::vector<std::vector<int64_t>> counts = block_layout(blocks, options, comm, r);
  at::Tensor t = l2_normalise(text);
  at::Tensor v = l2_normalise(image);
  // Columns: every rank's vectors, gathered WITH gradient (backward: sum reduce-scatter). Rows:
  // this rank's own vectors, used directly so that their gradient stays local.
  at::Tensor t_all = gather_columns(t, counts, blocks, comm);
  at::Tensor v_all = gather_columns(v, counts, blocks, comm);
  at::Tensor s = logit_scale.reshape({});
  if (options.clamp_logit_scale) s = s.clamp_max(kMaxLogitScale);
  at::Tensor scale = s.exp();
  at::Tensor sim_i2t = scale * v.matmul(t_all.t());
  at::Tensor sim_t2i = scale * t.matmul(v_all.t());
  const auto long_on = at::TensorOptions().dtype(at::kLong).device(text.device());
  std::vector<at::Tensor> label_parts;
  for (size_t j = 0; j < blocks.size(); ++j) {
    label_parts.push_back(at::arange(r.block_offsets[j], r.block_offsets[j] + blocks[j], long_on));
  }
  at::Tensor labels = label_parts.size() == 1 ? label_parts[0] : at::cat(label_parts);
  at::Tensor sum = summed_ce(sim_i2t, labels) + summed_ce(sim_t2i, labels);
  const double norm =
      r.global_rows > 0 ? static_cast<double>(comm.world_size()) / (2.0 * r.global_rows) : 0.0;
  r.loss = sum * norm;
  r.sim_i2t = sim_i2t.detach();
  r.sim_t2i = sim_t2i.detach();
  return r;
}

}  // namespace mmaux::loss
