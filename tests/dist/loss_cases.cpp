#include "dist/loss_cases.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/autograd.h>

#include <algorithm>

#include "mmaux/loss/cross_entropy.h"
#include "mmaux/loss/itc.h"
#include "mmaux/loss/itm.h"

namespace mmaux::testing {
namespace {

constexpr int64_t kDim = 6;
constexpr int64_t kClasses = 3;

/// [rows, cols] of smooth, distinct values (no random generator: threads share libtorch's).
at::Tensor features(int64_t rows, int64_t cols, double phase) {
  at::Tensor i = at::arange(rows, at::kDouble).unsqueeze(1);
  at::Tensor j = at::arange(cols, at::kDouble).unsqueeze(0);
  return at::sin(0.37 * i * (j + 1.0) + 1.3 * j + phase);
}

/// Logits of the ITM head for pairs (text row, image row): a fixed function of the two rows.
at::Tensor pair_logits(const at::Tensor& text_rows, const at::Tensor& image_rows) {
  at::Tensor t = text_rows.to(at::kDouble), v = image_rows.to(at::kDouble);
  return at::stack({at::sin(0.3 * t + 1.1 * v), at::cos(0.7 * t - 0.2 * v)}, 1);
}

double mean_over_ranks(const at::Tensor& term, dist::Communicator& comm) {
  at::Tensor t = term.detach().reshape({1}).clone();
  comm.all_reduce(t, dist::ReduceOp::kAvg);
  return t.item<double>();
}

}  // namespace

std::vector<int64_t> loss_row_counts(int w, bool unequal) {
  std::vector<int64_t> counts(w, kLossRows / w);
  if (unequal && w > 1) {
    int64_t used = 0;
    for (int q = 0; q < w - 1; ++q) used += counts[q] = q + 1;
    counts[w - 1] = kLossRows - used;
  }
  return counts;
}

std::vector<LossOutput> compute_losses(dist::Communicator& comm, bool unequal) {
  const int r = comm.rank(), w = comm.world_size();
  const std::vector<int64_t> counts = loss_row_counts(w, unequal);
  int64_t offset = 0;
  for (int q = 0; q < r; ++q) offset += counts[q];
  const int64_t b = counts[r];
  at::Tensor all_text = features(kLossRows, kDim, 0.0);
  all_text[7] = all_text[3];  // a duplicate text: the hard plan must mask it
  at::Tensor text = all_text.narrow(0, offset, b).clone().set_requires_grad(true);
  at::Tensor image = features(kLossRows, kDim, 1.0).narrow(0, offset, b).clone();
  image.set_requires_grad(true);
  at::Tensor logits = features(kLossRows, kClasses, 2.0).narrow(0, offset, b).clone();
  logits.set_requires_grad(true);
  at::Tensor labels = at::arange(offset, offset + b, at::kLong).remainder(kClasses);
  at::Tensor scale = at::full({}, 2.0, at::kDouble).set_requires_grad(true);
  at::Tensor weights = at::tensor({0.5, 1.0, 2.0}, at::kDouble);

  loss::ItcResult itc = loss::itc_loss(text, image, scale, comm);
  at::Tensor ce = loss::cross_entropy(logits, labels, weights, loss::CeNorm::kWeights, comm);
  (ce + itc.loss).backward();
  loss::RowKeys keys;
  keys.text = loss::row_keys(text.detach());
  keys.image = loss::row_keys(image.detach());
  keys.post = at::arange(offset, offset + b, at::kLong);
  loss::ItmPlan plan = loss::plan_itm_hard(itc, keys, loss::SamplingKey{42, 3}, 1e-4, comm);
  at::Tensor itm = loss::itm_loss(pair_logits(plan.text_rows, plan.image_rows), plan.labels, comm);

  std::vector<LossOutput> out;
  auto scalar = [](double v) { return at::full({}, v, at::kDouble); };
  out.push_back({"ce", scalar(mean_over_ranks(ce, comm)), false});
  out.push_back({"itc", scalar(mean_over_ranks(itc.loss, comm)), false});
  out.push_back({"itm", scalar(mean_over_ranks(itm, comm)), false});
  out.push_back({"scale_grad", scalar(mean_over_ranks(scale.grad(), comm)), false});
  // The all-gather's backward sums every rank's upstream gradient: / W is the global gradient.
  out.push_back({"text_grad", text.grad() / w, true});
  out.push_back({"image_grad", image.grad() / w, true});
  out.push_back({"logits_grad", logits.grad() / w, true});
  const char* blocks[] = {"positive", "text_negative", "image_negative"};
  for (int k = 0; k < 3; ++k) {
    out.push_back(
        {fmt::format("plan_{}_text", blocks[k]), plan.text_rows.narrow(0, k * b, b), true});
    out.push_back(
        {fmt::format("plan_{}_image", blocks[k]), plan.image_rows.narrow(0, k * b, b), true});
    out.push_back({fmt::format("plan_{}_label", blocks[k]), plan.labels.narrow(0, k * b, b), true});
  }
  return out;
}

std::vector<LossOutput> reference_slice(const std::vector<LossOutput>& reference, int64_t offset,
                                        int64_t rows) {
  std::vector<LossOutput> out = reference;
  for (auto& o : out) {
    if (o.per_row) o.value = o.value.narrow(0, offset, rows);
  }
  return out;
}

std::string compare_outputs(const std::vector<LossOutput>& got,
                            const std::vector<LossOutput>& expected, double rtol) {
  if (got.size() != expected.size()) {
    return fmt::format("{} outputs, expected {}", got.size(), expected.size());
  }
  std::string diff;
  for (size_t k = 0; k < got.size(); ++k) {
    const at::Tensor& a = got[k].value;
    const at::Tensor& e = expected[k].value;
    bool same = got[k].name == expected[k].name && a.sizes() == e.sizes();
    if (same && at::isFloatingType(a.scalar_type())) {
      const double scale = std::max(e.abs().max().item<double>(), 1e-300);
      same = e.numel() == 0 || (a - e).abs().max().item<double>() <= rtol * scale;
    } else if (same) {
      same = at::equal(a, e);
    }
    if (!same)
      diff += fmt::format("{}: {} vs expected {}\n", got[k].name, c10::str(a), c10::str(e));
  }
  return diff;
}

}  // namespace mmaux::testing
