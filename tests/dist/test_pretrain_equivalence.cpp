// `mmaux pretrain`'s step (train::pretrain_step: ITC gathered across ranks and micro-batches,
// hard ITM, MLM on the text tower with the cls.predictions head) under W ranks × k micro-batches
// equals one process on the global batch, in float64 with dropout on: the same ITC, ITM and MLM
// values and the same parameters (model, MLM head, logit scale) after three SGD steps. The data
// carry no labels (-1), as an unlabeled data set's do: pretraining never reads them.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "dist/batch_slice.h"
#include "dist/tiny_text.h"
#include "mmaux/dist/grad_sync.h"
#include "mmaux/model/dual_stream.h"
#include "mmaux/model/mlm_head.h"
#include "mmaux/train/pretrain.h"
#include "support/mpi_support.h"

namespace mmaux {
namespace {

constexpr int64_t kRows = 16;
constexpr int64_t kLength = 9;
constexpr int64_t kVocab = 40;
constexpr int64_t kSide = 16;
constexpr int kSteps = 3;
constexpr double kTol = 1e-10;
// Special ids of the tiny vocabulary: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4.
constexpr int64_t kMask = 4;

struct Pretrainable {
  std::shared_ptr<model::DualStreamModel> model;
  std::shared_ptr<model::MlmHead> head;
  at::Tensor logit_scale;
  dist::NamedTensors named() const {
    dist::NamedTensors out;
    for (const auto& p : model->named_parameters()) out.emplace_back(p.key(), p.value());
    for (const auto& p : head->named_parameters()) out.emplace_back("cls." + p.key(), p.value());
    out.emplace_back("logit_scale", logit_scale);
    return out;
  }
};

Pretrainable make_model(uint64_t seed) {
  model::ModelArchitecture c = model::preset_config(ModelKind::kBerVitConcat, ModelPreset::kTiny);
  testing::make_tiny_text(c.text, kVocab, 0.2);
  c.vision.hidden_size = 16;
  c.vision.num_hidden_layers = 1;
  c.vision.num_attention_heads = 2;
  c.vision.intermediate_size = 32;
  c.vision.image_size = kSide;
  c.vision.patch_size = 8;
  c.vision.hidden_dropout_prob = c.vision.attention_probs_dropout_prob = 0.2;
  c.projection_dim = 8;
  c.num_classes = 1;
  c.classifier_dropout = 0.2;
  ModelOptions o;
  o.name = ModelKind::kBerVitConcat;
  at::manual_seed(seed);
  Pretrainable m;
  m.model = std::make_shared<model::DualStreamModel>(c, o);
  m.head = std::make_shared<model::MlmHead>(c.text, m.model->text().embeddings().words().weight());
  m.model->to(at::kDouble);
  m.head->to(at::kDouble);
  m.model->train();
  m.logit_scale = at::full({}, 2.659260036932778, at::kDouble).set_requires_grad(true);
  return m;
}

/// Framed rows [CLS] w.. [SEP] [PAD].. of varying length, no labels.
data::Batch global_batch(int64_t step) {
  at::manual_seed(1000 + step);
  data::Batch g;
  g.input_ids = at::randint(5, kVocab, {kRows, kLength}, at::kLong);
  g.attention_mask = at::ones({kRows, kLength}, at::kLong);
  for (int64_t i = 0; i < kRows; ++i) {
    const int64_t len = 4 + (i + step) % (kLength - 3);  // 4 .. kLength real tokens
    g.input_ids[i][0] = 2;
    g.input_ids[i][len - 1] = 3;
    if (len < kLength) {
      g.input_ids[i].narrow(0, len, kLength - len).fill_(0);
      g.attention_mask[i].narrow(0, len, kLength - len).fill_(0);
    }
  }
  g.pixels = at::randn({kRows, 3, kSide, kSide}, at::kDouble);
  g.pixel_mask = at::ones({kRows, kSide, kSide}, at::kLong);
  g.labels = at::full({kRows}, -1, at::kLong);
  g.relation = at::full({kRows}, -1, at::kLong);
  g.global_row = at::arange(kRows, at::kLong);
  g.sample_index = at::arange(kRows, at::kLong);
  for (int64_t i = 0; i < kRows; ++i) g.post_ids.push_back(std::to_string(i));
  g.global_batch_size = kRows;
  return g;
}

train::JointLossOptions objective() {
  train::JointLossOptions o;
  o.weights = LossWeights{0, 0.5, 0.3};
  o.itm_mode = ItmMode::kHard;
  o.sampling_seed = 11;
  return o;
}

train::MlmObjective mlm() {
  train::MlmObjective m;
  m.masking.mask_id = kMask;
  m.masking.vocab_size = kVocab;
  m.masking.special_ids = {0, 1, 2, 3, kMask};
  m.masking.prob = 0.3;  // more selected tokens than BERT's 0.15 in a tiny batch
  m.masking.seed = 5;
  m.weight = 0.7;
  return m;
}

struct Values {
  double itc, itm, mlm;
};

Values step_once(Pretrainable& m, const std::vector<data::Batch>& micro, int64_t step,
                 dist::Communicator& comm, dist::GradSync* sync) {
  for (auto& [name, p] : m.named()) p.mutable_grad() = at::Tensor();
  train::LossModel lm{*m.model, m.logit_scale, at::Tensor(), c10::Device(c10::kCPU)};
  train::AccumulationHooks hooks;
  hooks.before_backward = [&](int j, int count, at::Tensor&) {
    if (sync != nullptr) sync->set_sync(j == count - 1);
  };
  at::manual_seed(500 + static_cast<uint64_t>(step));  // the same dropout stream everywhere
  train::AccumulatedStep s =
      train::pretrain_step(lm, *m.head, micro, step, objective(), mlm(), comm, hooks);
  if (sync != nullptr) sync->finish();
  {
    at::NoGradGuard no_grad;
    for (auto& [name, p] : m.named()) {
      if (p.grad().defined()) p.sub_(p.grad() * 0.5);
    }
  }
  at::Tensor v = at::tensor({s.losses.itc, s.losses.itm, s.losses.mlm}, at::kDouble);
  comm.all_reduce(v, dist::ReduceOp::kAvg);
  return {v[0].item<double>(), v[1].item<double>(), v[2].item<double>()};
}

void expect_close(double got, double want, const std::string& what) {
  EXPECT_LE(std::abs(got - want) / std::max(std::abs(want), 1e-12), kTol)
      << what << ": " << got << " vs one process " << want;
}

class PretrainEquivalence : public ::testing::TestWithParam<int> {};

TEST_P(PretrainEquivalence, RanksAndMicroBatchesTrainLikeOneProcess) {
  const int k = GetParam();
  const DistOptions o = testing::mpi_test_options(60, 0.0005);
  auto comm = testing::mpi_test_communicator(o);
  auto local = dist::make_local_communicator();
  const int w = comm->world_size();
  ASSERT_EQ(kRows % (k * w), 0);
  Pretrainable reference = make_model(7), ranked = make_model(7);
  dist::GradSync sync(ranked.named(), {}, comm, o);
  for (int64_t step = 0; step < kSteps; ++step) {
    data::Batch g = global_batch(step);
    const Values want = step_once(reference, {g}, step, *local, nullptr);
    const Values got =
        step_once(ranked, testing::micro_batches(g, k, w, comm->rank()), step, *comm, &sync);
    const std::string at = "k=" + std::to_string(k) + " step " + std::to_string(step);
    expect_close(got.itc, want.itc, "ITC " + at);
    expect_close(got.itm, want.itm, "ITM " + at);
    expect_close(got.mlm, want.mlm, "MLM " + at);
    EXPECT_GT(want.mlm, 0) << at;
  }
  auto want = reference.named();
  auto initial = make_model(7).named();
  auto got = ranked.named();
  int changed = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const at::Tensor& r = want[i].second;
    const double scale = std::max(r.abs().max().item<double>(), 1.0);
    EXPECT_LE((got[i].second - r).abs().max().item<double>() / scale, kTol) << got[i].first;
    changed += at::equal(got[i].second, initial[i].second) ? 0 : 1;
  }
  // The MLM head and the word embeddings (tied decoder) trained too.
  for (const auto& [name, t] : got) {
    if (name.rfind("cls.", 0) == 0 || name == "text.embeddings.word_embeddings.weight") {
      const auto& init = std::find_if(initial.begin(), initial.end(), [&](const auto& p) {
                           return p.first == name;
                         })->second;
      EXPECT_FALSE(at::equal(t, init)) << name << " did not change";
    }
  }
  EXPECT_GT(changed, 20);
}

INSTANTIATE_TEST_SUITE_P(MicroBatches, PretrainEquivalence, ::testing::Values(1, 2),
                         [](const auto& info) { return "k" + std::to_string(info.param); });

// The MLM value in float64 is the mean cross entropy over the selected tokens computed by hand
// (eval mode: no dropout), to float64 rounding: no float32 round trip inside the term.
TEST(PretrainMlm, ValueIsTheFloat64MeanOverSelectedTokens) {
  auto local = dist::make_local_communicator();
  Pretrainable m = make_model(3);
  m.model->eval();
  m.head->eval();
  const data::Batch g = global_batch(0);
  train::LossModel lm{*m.model, m.logit_scale, at::Tensor(), c10::Device(c10::kCPU)};
  train::AccumulatedStep s = train::pretrain_step(lm, *m.head, testing::micro_batches(g, 1, 1, 0),
                                                  0, objective(), mlm(), *local, {});
  at::NoGradGuard no_grad;
  std::vector<int64_t> rows(kRows);
  for (int64_t i = 0; i < kRows; ++i) rows[i] = i;
  train::MaskedText masked =
      train::mask_tokens(g.input_ids, g.attention_mask, rows, 0, mlm().masking);
  ASSERT_GT(masked.selected, 0);
  at::Tensor hidden = m.model->text().forward(masked.input_ids, g.attention_mask).last_hidden_state;
  at::Tensor labels = masked.labels.reshape({-1});
  at::Tensor where = labels.ne(-100).nonzero().squeeze(1);
  at::Tensor logits = m.head->forward(hidden.reshape({-1, hidden.size(2)}).index_select(0, where));
  ASSERT_EQ(logits.scalar_type(), at::kDouble);
  const double want = at::cross_entropy_loss(logits, labels.index_select(0, where)).item<double>();
  EXPECT_NEAR(s.losses.mlm, want, 1e-12 * std::abs(want));
}

}  // namespace
}  // namespace mmaux
