// Scoring a split: every rank scores its share of each batch; counts are summed over ranks.
#include <ATen/ATen.h>

#include "mmaux/data/loader.h"
#include "session.h"

namespace mmaux::train {
namespace {

// Confusion counts of a split flattened as [relations + 1, C, C] (slot 0: all rows), plus the
// weighted CE sum and its normaliser, summed over ranks in one all-reduce.
struct Tally {
  int64_t classes, relations;
  at::Tensor counts;  // int64 [(R + 1) * C * C]
  double loss_sum = 0, weight_sum = 0;

  Tally(int64_t c, int64_t r)
      : classes(c), relations(r), counts(at::zeros({(r + 1) * c * c}, at::kLong)) {}

  void add(const at::Tensor& labels, const at::Tensor& preds, const at::Tensor& relation) {
    at::Tensor cell = labels * classes + preds;
    counts.index_add_(0, cell, at::ones_like(cell));
    if (relations == 0) return;
    at::Tensor valid = relation.ge(0).logical_and(relation.lt(relations));
    at::Tensor rel_cell = (relation.index({valid}) + 1) * classes * classes + cell.index({valid});
    counts.index_add_(0, rel_cell, at::ones_like(rel_cell));
  }
};

ConfusionMatrix slice(const at::Tensor& counts, int64_t slot, int64_t c) {
  ConfusionMatrix cm(static_cast<int>(c));
  at::Tensor part = counts.slice(0, slot * c * c, (slot + 1) * c * c).contiguous();
  const int64_t* p = part.data_ptr<int64_t>();
  for (int64_t i = 0; i < c * c; ++i) cm.counts()[static_cast<size_t>(i)] = p[i];
  return cm;
}

}  // namespace

EvalResult Session::evaluate(const std::string& split, std::vector<Prediction>* predictions) {
  data::LoaderOptions lo;
  lo.split = split;
  lo.global_batch_size = config.data.eval_batch_size;
  lo.drop_last = false;
  lo.shuffle = false;
  lo.prefetch = config.data.prefetch;
  lo.threads = config.data.loader_threads;
  lo.rank = comm->rank();
  lo.world_size = comm->world_size();
  data::Loader loader(manifest, lo);
  const int64_t c = manifest.num_classes();
  const auto relations = static_cast<int64_t>(manifest.relation_names().size());
  Tally tally(c, relations);
  at::Tensor weights =
      class_weights.defined() ? class_weights.cpu().to(at::kDouble) : at::ones({c}, at::kDouble);

  model->eval();
  at::NoGradGuard no_grad;
  while (auto batch = loader.next()) {
    if (batch->size() == 0) continue;
    model::Encoded enc = model->encode(to_input(*batch));
    at::Tensor logits = model->classify(enc.fused).to(at::kCPU).to(at::kDouble);
    at::Tensor preds = logits.argmax(1);
    at::Tensor w = weights.index_select(0, batch->labels);
    at::Tensor nll = -at::log_softmax(logits, 1).gather(1, batch->labels.unsqueeze(1)).squeeze(1);
    tally.loss_sum += (w * nll).sum().item<double>();
    tally.weight_sum += w.sum().item<double>();
    tally.add(batch->labels, preds, batch->relation);
    if (predictions == nullptr) continue;
    at::Tensor probs = at::softmax(logits, 1).to(at::kFloat).contiguous();
    // One host read per tensor, not per element.
    auto index = batch->sample_index.accessor<int64_t, 1>();
    auto label = batch->labels.accessor<int64_t, 1>();
    auto pred = preds.accessor<int64_t, 1>();
    auto rel = batch->relation.accessor<int64_t, 1>();
    for (int64_t i = 0; i < batch->size(); ++i) {
      Prediction p;
      p.sample_index = index[i];
      p.post_id = batch->post_ids[static_cast<size_t>(i)];
      p.label = label[i];
      p.predicted = pred[i];
      p.relation = rel[i];
      const float* row = probs.data_ptr<float>() + i * c;
      p.probs.assign(row, row + c);
      predictions->push_back(std::move(p));
    }
  }
  model->train();

  at::Tensor counts = tally.counts.to(comm->device());
  comm->all_reduce(counts, dist::ReduceOp::kSum);
  at::Tensor sums = at::tensor({tally.loss_sum, tally.weight_sum}, at::kDouble).to(comm->device());
  comm->all_reduce(sums, dist::ReduceOp::kSum);
  counts = counts.cpu();
  sums = sums.cpu();

  EvalResult r;
  r.metrics = slice(counts, 0, c).metrics();
  r.loss = sums[1].item<double>() > 0 ? sums[0].item<double>() / sums[1].item<double>() : 0.0;
  for (int64_t k = 0; k < relations; ++k) {
    r.by_relation.emplace_back(manifest.relation_names()[static_cast<size_t>(k)],
                               slice(counts, k + 1, c).metrics());
  }
  return r;
}

}  // namespace mmaux::train
