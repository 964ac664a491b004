#include "mmaux/loss/itm.h"

#include <ATen/ATen.h>

#include "mmaux/core/error.h"
#include "mmaux/core/hash.h"
#include "mmaux/loss/cross_entropy.h"

namespace mmaux::loss {
namespace {

// Independent draws per purpose, so that e.g. the negative text of image g and the negative
// image of text g are not correlated.
enum Stream : uint64_t { kNegText = 1, kNegImage = 2, kSwapCoin = 3, kSwapPick = 4 };

/// A uniform double in [0, 1) that depends only on (seed, step, global row, stream).
double uniform(SamplingKey key, int64_t row, Stream stream) {
  uint64_t h = mix64(key.seed);
  h = hash_combine(h, static_cast<uint64_t>(key.step));
  h = hash_combine(h, static_cast<uint64_t>(row));
  h = hash_combine(h, stream);
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

at::Tensor uniforms(SamplingKey key, int64_t first_row, int64_t n, Stream stream,
                    c10::Device device) {
  at::Tensor u = at::empty({n}, at::kDouble);
  double* p = u.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) p[i] = uniform(key, first_row + i, stream);
  return u.to(device);
}

/// Inverse-CDF draw of one column per row of non-negative `weights` [b, N] (every row has a
/// positive entry), with uniforms `u` [b]. All rows at once, on the device.
at::Tensor draw_rows(const at::Tensor& weights, const at::Tensor& u) {
  const int64_t n = weights.size(1);
  at::Tensor cdf = weights.cumsum(1);
  at::Tensor target = (u * cdf.select(1, n - 1)).unsqueeze(1).contiguous();
  at::Tensor idx =
      at::searchsorted(cdf.contiguous(), target, /*out_int32=*/false, /*right=*/true).squeeze(1);
  // u * total can round up to total: take the last column with positive weight then.
  at::Tensor cols = at::arange(n, weights.options().dtype(at::kLong));
  at::Tensor last = ((weights > 0).to(at::kLong) * (cols + 1)).amax(1) - 1;
  return at::minimum(idx, last);
}

struct Drawn {
  at::Tensor cols;        // int64 [b]
  at::Tensor degenerate;  // int64 scalar
};

/// One negative column per row of `sim` [b, N] with the candidates in `masked` [b, N] excluded.
Drawn draw_negatives(const at::Tensor& sim, const at::Tensor& masked, const at::Tensor& rows,
                     double eps, const at::Tensor& u) {
  const int64_t n = sim.size(1);
  at::Tensor s = sim.to(at::kDouble);
  at::Tensor finite = at::isfinite(s);
  at::Tensor valid = finite & masked.logical_not();
  // ALBEF/BLIP: softmax over the whole row, + eps, then the masked candidates set to zero.
  at::Tensor w = at::where(valid, at::softmax(s, 1) + eps, at::zeros_like(s));
  at::Tensor ok = at::isfinite(w).all(1) & (w.sum(1) > 0) & finite.all(1);
  // Fallbacks, in order: uniform over valid columns; uniform over the other rows; the row itself.
  at::Tensor cols = at::arange(n, rows.options()).unsqueeze(0);
  at::Tensor others = (cols != rows.unsqueeze(1)).to(at::kDouble);
  at::Tensor self = (cols == rows.unsqueeze(1)).to(at::kDouble);
  at::Tensor uniform_valid = valid.to(at::kDouble);
  at::Tensor has_valid = uniform_valid.sum(1, true) > 0;
  at::Tensor has_other = others.sum(1, true) > 0;
  at::Tensor fallback = at::where(has_valid, uniform_valid, at::where(has_other, others, self));
  at::Tensor weights =
      at::where(ok.unsqueeze(1), at::where(at::isfinite(w), w, at::zeros_like(w)), fallback);
  Drawn d;
  d.cols = draw_rows(weights, u);
  d.degenerate = ok.logical_not().sum();
  return d;
}

void check_keys(const at::Tensor& keys, int64_t b, const char* what) {
  MMAUX_CHECK(keys.defined() && keys.dim() == 1 && keys.size(0) == b,
              "plan_itm_hard: {} keys must be int64 [{}] (one per local row)", what, b);
}

}  // namespace

ItmPlan plan_itm_random(int64_t local_rows, int64_t row_offset, SamplingKey key,
                        c10::Device device) {
  MMAUX_CHECK(local_rows >= 0 && row_offset >= 0, "plan_itm_random: rows {} offset {}", local_rows,
              row_offset);
  // b draws of a few doubles on the host: no device synchronisation is involved.
  at::Tensor text = at::empty({local_rows}, at::kLong);
  at::Tensor label = at::ones({local_rows}, at::kLong);
  int64_t* t = text.data_ptr<int64_t>();
  int64_t* l = label.data_ptr<int64_t>();
  for (int64_t k = 0; k < local_rows; ++k) {
    const int64_t g = row_offset + k;
    t[k] = g;
    if (local_rows < 2 || uniform(key, g, kSwapCoin) >= 0.5) continue;
    auto pick = static_cast<int64_t>(uniform(key, g, kSwapPick) * (local_rows - 1));
    pick = std::min(pick, local_rows - 2);
    if (pick >= k) ++pick;  // any other row of the local batch, never itself
    t[k] = row_offset + pick;
    l[k] = 0;
  }
  ItmPlan plan;
  plan.image_rows = at::arange(row_offset, row_offset + local_rows, at::kLong).to(device);
  plan.text_rows = text.to(device);
  plan.labels = label.to(device);
  plan.degenerate = at::full({}, local_rows == 1 ? 1 : 0, at::kLong).to(device);
  return plan;
}

ItmPlan plan_itm_hard(const at::Tensor& sim_i2t, const at::Tensor& sim_t2i, int64_t row_offset,
                      const RowKeys& keys, SamplingKey key, double eps, dist::Communicator& comm) {
  MMAUX_CHECK(sim_i2t.dim() == 2 && sim_i2t.sizes() == sim_t2i.sizes(),
              "plan_itm_hard: similarities must both be [b, N]");
  MMAUX_CHECK(eps >= 0, "plan_itm_hard: eps must be >= 0, got {}", eps);
  const int64_t b = sim_i2t.size(0);
  const int64_t n = sim_i2t.size(1);
  at::NoGradGuard no_grad;
  check_keys(keys.text, b, "text");
  check_keys(keys.image, b, "image");
  if (keys.post.defined()) check_keys(keys.post, b, "post");
  // One gather of [b, 2 or 3] keys: every rank holds the keys of every global row.
  std::vector<at::Tensor> parts{keys.text.to(comm.device(), at::kLong),
                                keys.image.to(comm.device(), at::kLong)};
  if (keys.post.defined()) parts.push_back(keys.post.to(comm.device(), at::kLong));
  at::Tensor all = comm.all_gather_varsize(at::stack(parts, 1));
  MMAUX_CHECK(all.size(0) == n,
              "plan_itm_hard: the similarities have {} columns but the ranks hold {} rows", n,
              all.size(0));
  MMAUX_CHECK(row_offset >= 0 && row_offset + b <= n, "plan_itm_hard: rows [{}, {}) outside {}",
              row_offset, row_offset + b, n);
  const c10::Device dev = sim_i2t.device();
  if (b == 0) {
    at::Tensor none = at::empty({0}, at::TensorOptions(at::kLong).device(dev));
    return ItmPlan{none, none.clone(), none.clone(), at::zeros({}, none.options())};
  }
  all = all.to(dev);
  at::Tensor text_all = all.select(1, 0), image_all = all.select(1, 1);
  at::Tensor rows =
      at::arange(row_offset, row_offset + b, at::TensorOptions(at::kLong).device(dev));
  at::Tensor cols = at::arange(n, rows.options());
  auto same = [&](const at::Tensor& k) {
    return k.index_select(0, rows).unsqueeze(1) == k.unsqueeze(0);
  };
  at::Tensor masked = (rows.unsqueeze(1) == cols.unsqueeze(0)) | same(text_all) | same(image_all);
  if (keys.post.defined()) masked = masked | same(all.select(1, 2));

  Drawn neg_text =
      draw_negatives(sim_i2t, masked, rows, eps, uniforms(key, row_offset, b, kNegText, dev));
  Drawn neg_image =
      draw_negatives(sim_t2i, masked, rows, eps, uniforms(key, row_offset, b, kNegImage, dev));
  ItmPlan plan;
  plan.text_rows = at::cat({rows, neg_text.cols, rows});
  plan.image_rows = at::cat({rows, rows, neg_image.cols});
  // Negatives are labelled 0 unless the only possible pair was the row itself (N = 1).
  plan.labels = (plan.text_rows == plan.image_rows).to(at::kLong);
  plan.degenerate = neg_text.degenerate + neg_image.degenerate;
  return plan;
}

ItmPlan plan_itm_hard(const ItcResult& itc, const RowKeys& keys, SamplingKey key, double eps,
                      dist::Communicator& comm) {
  return plan_itm_hard(itc.sim_i2t, itc.sim_t2i, itc.row_offset, keys, key, eps, comm);
}

at::Tensor itm_loss(const at::Tensor& logits, const at::Tensor& labels, dist::Communicator& comm,
                    int64_t global_pairs) {
  MMAUX_CHECK(logits.dim() == 2 && logits.size(1) == 2, "itm_loss: logits must be [m, 2]");
  return cross_entropy(logits, labels, at::Tensor(), CeNorm::kBatch, comm, global_pairs);
}

}  // namespace mmaux::loss
