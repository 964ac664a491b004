// LXMERT under W ranks (MPI, CPU, float64) equals one process on the global batch: CE + ITC
// (max-pooled text against max-pooled regions, gathered with gradient) + ITM (random or hard) with
// the paper's heads, after several SGD steps, for the losses and every parameter. Region tensors
// are built here directly (rows padded differently, one padded region per row).
//
// Random ITM swaps texts inside each rank's own batch (the paper's rule), so its single-process
// reference draws the same per-rank plans (plan_itm_random of each slice) on the global batch;
// hard ITM's plan is a function of (seed, step, global row) and is drawn once for all rows.
#include <gtest/gtest.h>

#include <cmath>

#include "mmaux/config/dist_options.h"
#include "mmaux/dist/grad_sync.h"
#include "mmaux/loss/cross_entropy.h"
#include "mmaux/loss/itc.h"
#include "mmaux/loss/itm.h"
#include "mmaux/model/lxmert.h"
#include "support/mpi_support.h"
#include "train/model_rows.h"

namespace mmaux {
namespace {

constexpr int64_t kGlobalBatch = 8, kLength = 6, kRegions = 4, kFeat = 6, kVocab = 20;
constexpr uint64_t kSeed = 5;
constexpr double kTol = 1e-10;

model::ModelArchitecture architecture() {
  model::ModelArchitecture c = model::preset_config(ModelKind::kLxmert, ModelPreset::kTiny);
  model::LxmertConfig& x = c.lxmert;
  x.vocab_size = kVocab;
  x.hidden_size = 16;
  x.num_attention_heads = 2;
  x.intermediate_size = 24;
  x.max_position_embeddings = 8;
  x.l_layers = x.r_layers = x.x_layers = 1;
  x.visual_feat_dim = kFeat;
  x.hidden_dropout_prob = x.attention_probs_dropout_prob = 0;  // the same masks at any W
  c.num_classes = 3;
  c.classifier_dropout = 0;
  return c;
}

/// The model and its ITC logit scale, as one module (so GradSync averages the scale too).
struct Lxmert : torch::nn::Module {
  explicit Lxmert(bool paper) {
    at::manual_seed(kSeed);
    ModelOptions o;
    o.name = ModelKind::kLxmert;
    o.paper = paper;
    model = register_module("model", std::make_shared<model::LxmertModel>(architecture(), o));
    scale = register_parameter("logit_scale", at::full({}, 2.659260036932778));
    to(at::kDouble);
  }
  void sgd_step(double lr) {
    at::NoGradGuard no_grad;
    for (auto& p : parameters()) {
      if (p.grad().defined()) p.sub_(p.grad() * lr);
      p.mutable_grad() = at::Tensor();
    }
  }
  std::shared_ptr<model::LxmertModel> model;
  at::Tensor scale;
};

struct Rows {
  model::ModelInput input;
  at::Tensor labels;
  int64_t offset = 0;
};

/// The global batch of `step`: row r has r % 3 padded tokens and its last region padded when r is
/// odd; row 5 repeats row 1's text and row 6 row 2's regions (duplicate masking takes part).
Rows global_rows(int64_t step) {
  at::manual_seed(100 + step);
  const int64_t n = kGlobalBatch;
  Rows g;
  model::ModelInput& in = g.input;
  in.input_ids = at::randint(1, kVocab, {n, kLength}, at::kLong);
  in.attention_mask = at::ones({n, kLength}, at::kLong);
  in.token_type_ids = at::zeros({n, kLength}, at::kLong);
  // Pixels travel with the rows as they do in training; LXMERT never reads them.
  in.pixels = at::rand({n, 3, 2, 2}, at::kDouble);
  in.pixel_mask = at::ones({n, 2, 2}, at::kLong);
  in.region_features = at::rand({n, kRegions, kFeat}, at::kDouble);
  at::Tensor corner = at::rand({n, kRegions, 2}, at::kDouble) * 0.5;
  in.region_boxes = at::cat({corner, corner + 0.25}, 2);
  in.region_mask = at::ones({n, kRegions}, at::kLong);
  for (int64_t r = 0; r < n; ++r) {
    const int64_t pad = r % 3;
    if (pad > 0) {
      in.input_ids[r].narrow(0, kLength - pad, pad).fill_(0);
      in.attention_mask[r].narrow(0, kLength - pad, pad).fill_(0);
    }
    in.token_type_ids[r].narrow(0, 3, kLength - 3 - pad).fill_(1);  // sentence pairs
    if (r % 2 == 1) in.region_mask[r][kRegions - 1] = 0;
  }
  in.input_ids[5].copy_(in.input_ids[1]);
  in.attention_mask[5].copy_(in.attention_mask[1]);
  in.token_type_ids[5].copy_(in.token_type_ids[1]);
  in.region_features[6].copy_(in.region_features[2]);
  in.region_boxes[6].copy_(in.region_boxes[2]);
  in.region_mask[6].copy_(in.region_mask[2]);
  g.labels = at::randint(0, 3, {n}, at::kLong);
  return g;
}

Rows slice(const Rows& g, int64_t offset, int64_t b) {
  Rows s;
  const model::ModelInput& in = g.input;
  s.input = model::ModelInput{
      in.input_ids.narrow(0, offset, b),      in.attention_mask.narrow(0, offset, b),
      in.pixels.narrow(0, offset, b),         in.pixel_mask.narrow(0, offset, b),
      in.token_type_ids.narrow(0, offset, b), in.region_features.narrow(0, offset, b),
      in.region_boxes.narrow(0, offset, b),   in.region_mask.narrow(0, offset, b)};
  s.labels = g.labels.narrow(0, offset, b);
  s.offset = offset;
  return s;
}

/// Rows may be reused as duplicates of each other: their content decides (regions as "images").
loss::RowKeys keys(const model::ModelInput& in) {
  return {loss::text_keys(in.input_ids, in.attention_mask),
          loss::row_keys(at::cat({in.region_features.flatten(1), in.region_boxes.flatten(1),
                                  in.region_mask.to(at::kDouble)},
                                 1)),
          at::Tensor()};
}

/// One step of 0.8 CE + 0.1 ITC + 0.1 ITM on `rows` (this rank's, or all of them with a local
/// communicator and `plans` = every rank's random plan). Returns the global loss.
double step_loss(Lxmert& m, const Rows& rows, ItmMode mode, int64_t step, dist::Communicator& comm,
                 dist::GradSync* sync, const loss::ItmPlan* plan_override) {
  model::Encoded e = m.model->encode(rows.input);
  at::Tensor ce = loss::cross_entropy(m.model->classify(e.fused), rows.labels,
                                      loss::balanced_class_weights({3, 3, 2}), CeNorm::kBatch, comm,
                                      kGlobalBatch);
  loss::ItcResult itc = loss::itc_loss(e.itc_text, e.itc_image, m.scale, comm);
  loss::SamplingKey key{kSeed, step};
  loss::ItmPlan plan;
  at::Tensor logits;
  if (mode == ItmMode::kRandom) {
    plan = plan_override != nullptr ? *plan_override
                                    : loss::plan_itm_random(rows.labels.size(0), rows.offset, key);
    logits = m.model->itm_logits(train::select_pairs(rows.input, plan, rows.offset), {});
  } else {
    plan = loss::plan_itm_hard(itc, keys(rows.input), key, 1e-4, comm);
    logits = m.model->itm_logits(
        train::select_pairs(train::gather_rows(rows.input, comm, 0), plan, 0), {});
  }
  const int64_t pairs = (mode == ItmMode::kHard ? 3 : 1) * kGlobalBatch;
  at::Tensor itm = loss::itm_loss(logits, plan.labels, comm, pairs);
  at::Tensor total = 0.8 * ce + 0.1 * itc.loss + 0.1 * itm;
  total.backward();
  if (sync != nullptr) sync->finish();
  m.sgd_step(0.5);
  at::Tensor value = total.detach().reshape({1}).clone();
  comm.all_reduce(value, dist::ReduceOp::kAvg);
  return value.item<double>();
}

/// Every rank's random plan for the global batch, concatenated (what W ranks draw together).
loss::ItmPlan all_random_plans(int64_t w, int64_t b, int64_t step) {
  std::vector<at::Tensor> t, v, l;
  for (int64_t r = 0; r < w; ++r) {
    loss::ItmPlan p = loss::plan_itm_random(b, r * b, {kSeed, step});
    t.push_back(p.text_rows);
    v.push_back(p.image_rows);
    l.push_back(p.labels);
  }
  loss::ItmPlan all;
  all.text_rows = at::cat(t);
  all.image_rows = at::cat(v);
  all.labels = at::cat(l);
  return all;
}

struct Case {
  ItmMode mode;
  bool paper;
};

class LxmertEquivalence : public ::testing::TestWithParam<Case> {};

TEST_P(LxmertEquivalence, RanksTrainLikeOneProcessOnTheGlobalBatch) {
  const DistOptions o = testing::mpi_test_options(60, 0.001);
  auto comm = testing::mpi_test_communicator(o);
  auto local = dist::make_local_communicator();
  const int64_t w = comm->world_size(), b = kGlobalBatch / w, offset = b * comm->rank();
  ASSERT_EQ(kGlobalBatch % w, 0);
  Lxmert reference(GetParam().paper), model(GetParam().paper);
  dist::GradSync sync(model, comm, o);
  for (int64_t step = 0; step < 3; ++step) {
    Rows g = global_rows(step);
    loss::ItmPlan plans = all_random_plans(w, b, step);
    const double ref = step_loss(reference, g, GetParam().mode, step, *local, nullptr,
                                 GetParam().mode == ItmMode::kRandom ? &plans : nullptr);
    const double got =
        step_loss(model, slice(g, offset, b), GetParam().mode, step, *comm, &sync, nullptr);
    EXPECT_LE(std::abs(got - ref) / std::abs(ref), kTol) << "step " << step;
  }
  auto ref = reference.named_parameters();
  int64_t compared = 0;
  for (const auto& p : model.named_parameters()) {
    at::Tensor diff = (p.value() - ref[p.key()]).abs();
    // Key biases get an exactly-zero gradient in exact arithmetic (softmax ignores a score shift
    // shared by all keys) and stay at rounding level (~1e-17): compare them absolutely.
    const double scale = std::max(ref[p.key()].abs().max().item<double>(), 1e-3);
    EXPECT_LE(diff.max().item<double>() / scale, kTol) << p.key();
    ++compared;
  }
  EXPECT_GT(compared, 50);
}

INSTANTIATE_TEST_SUITE_P(Itm, LxmertEquivalence,
                         ::testing::Values(Case{ItmMode::kHard, false},
                                           Case{ItmMode::kRandom, true},
                                           Case{ItmMode::kHard, true}),
                         [](const auto& info) {
                           return std::string(info.param.mode == ItmMode::kHard ? "Hard"
                                                                                : "Random") +
                                  (info.param.paper ? "Paper" : "");
                         });

}  // namespace
}  // namespace mmaux
