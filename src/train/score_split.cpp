#include "score_split.h"

#include <ATen/ATen.h>

#include "mmaux/core/error.h"
#include "mmaux/data/loader.h"
#include "mmaux/loss/cross_entropy.h"

namespace mmaux::train {
namespace {

// Confusion counts of a split flattened as [relations + 1, C, C] (slot 0: all rows), plus the
// CE sums (loss::CeSums), each summed over ranks by an all-reduce.
struct Tally {
  int64_t classes, relations;
  at::Tensor counts;  // int64 [(R + 1) * C * C]
  double loss_sum = 0, normaliser_sum = 0;

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

void add_predictions(const data::Batch& batch, const at::Tensor& logits, const at::Tensor& preds,
                     std::vector<Prediction>& out) {
  const int64_t c = logits.size(1);
  at::Tensor probs = at::softmax(logits, 1).to(at::kFloat).contiguous();
  // One host read per tensor, not per element.
  auto index = batch.sample_index.accessor<int64_t, 1>();
  auto label = batch.labels.accessor<int64_t, 1>();
  auto pred = preds.accessor<int64_t, 1>();
  auto rel = batch.relation.accessor<int64_t, 1>();
  for (int64_t i = 0; i < batch.size(); ++i) {
    Prediction p;
    p.sample_index = index[i];
    p.post_id = batch.post_ids[static_cast<size_t>(i)];
    p.label = label[i];
    p.predicted = pred[i];
    p.relation = rel[i];
    const float* row = probs.data_ptr<float>() + i * c;
    p.probs.assign(row, row + c);
    out.push_back(std::move(p));
  }
}

// Every rank's tally summed: counts in one all-reduce, the CE sums in another.
EvalResult reduce(Tally& tally, const data::Manifest& manifest, dist::Communicator& comm) {
  const int64_t c = tally.classes;
  at::Tensor counts = tally.counts.to(comm.device());
  comm.all_reduce(counts, dist::ReduceOp::kSum);
  at::Tensor sums =
      at::tensor({tally.loss_sum, tally.normaliser_sum}, at::kDouble).to(comm.device());
  comm.all_reduce(sums, dist::ReduceOp::kSum);
  counts = counts.cpu();
  sums = sums.cpu();

  EvalResult r;
  r.metrics = slice(counts, 0, c).metrics();
  r.loss = sums[1].item<double>() > 0 ? sums[0].item<double>() / sums[1].item<double>() : 0.0;
  for (int64_t k = 0; k < tally.relations; ++k) {
    r.by_relation.emplace_back(manifest.relation_names()[static_cast<size_t>(k)],
                               slice(counts, k + 1, c).metrics());
  }
  return r;
}

}  // namespace

void for_each_eval_batch(model::MultimodalModel& model, const data::Manifest& manifest,
                         const DataOptions& data, const std::string& split, int rank, int world,
                         const std::function<void(const data::Batch&)>& visit) {
  data::Loader loader(manifest, data::evaluation_loader_options(data, split, rank, world));
  // The caller's mode is restored after: the trainer decides it per epoch (trains_with_dropout).
  const bool was_training = model.is_training();
  model.eval();
  at::NoGradGuard no_grad;
  while (auto batch = loader.next()) {
    if (batch->size() > 0) visit(*batch);
  }
  model.train(was_training);
}

void ItcRows::add(const model::Encoded& e) {
  MMAUX_CHECK(e.itc_text.defined() && e.itc_image.defined(),
              "the model returned no ITC vectors for retrieval");
  text.push_back(e.itc_text.detach().cpu());
  image.push_back(e.itc_image.detach().cpu());
}

RetrievalRecall ItcRows::recall(dist::Communicator& comm) const {
  // A rank without rows passes [0] tensors: retrieval_recall takes the dim from the others.
  at::Tensor t = text.empty() ? at::zeros({0}) : at::cat(text);
  at::Tensor i = image.empty() ? at::zeros({0}) : at::cat(image);
  return retrieval_recall(t, i, comm);
}

EvalResult score_split(Session& s, const std::string& split, std::vector<Prediction>* predictions,
                       bool retrieval) {
  const int64_t c = s.manifest.num_classes();
  Tally tally(c, static_cast<int64_t>(s.manifest.relation_names().size()));
  at::Tensor weights =
      s.class_weights.defined() ? s.class_weights.cpu().to(at::kDouble) : at::Tensor();
  ItcRows itc;
  for_each_eval_batch(*s.model, s.manifest, s.config.data, split, s.comm->rank(),
                      s.comm->world_size(), [&](const data::Batch& batch) {
                        model::ModelInput input = to_model_input(batch, s.device);
                        input.need_itc = retrieval;
                        model::Encoded enc = s.model->encode(input);
                        if (retrieval) itc.add(enc);
                        at::Tensor logits =
                            s.model->classify(enc.fused).to(at::kCPU).to(at::kDouble);
                        at::Tensor preds = logits.argmax(1);
                        loss::CeSums ce = loss::cross_entropy_sums(logits, batch.labels, weights,
                                                                   s.objective.ce_norm);
                        tally.loss_sum += ce.weighted_nll.item<double>();
                        tally.normaliser_sum += ce.normaliser.item<double>();
                        tally.add(batch.labels, preds, batch.relation);
                        if (predictions != nullptr)
                          add_predictions(batch, logits, preds, *predictions);
                      });
  EvalResult r = reduce(tally, s.manifest, *s.comm);
  if (retrieval) r.retrieval = itc.recall(*s.comm);
  return r;
}

}  // namespace mmaux::train
