// train::joint_loss on one rank, against closed forms of its three terms: the trainer's step
// objective tested directly (tests/dist/test_equivalence.cpp runs it at several world sizes).
#include <gtest/gtest.h>

#include "dist/two_tower.h"
#include "mmaux/loss/cross_entropy.h"
#include "mmaux/train/joint_loss.h"

namespace mmaux::train {
namespace {

using mmaux::testing::make_two_tower;
using mmaux::testing::TwoTower;

constexpr int64_t kRows = 6;

data::Batch batch(int64_t seed) {
  at::manual_seed(seed);
  data::Batch b;
  b.input_ids = at::randint(1, mmaux::testing::kVocab, {kRows, 4}, at::kLong);
  b.attention_mask = at::ones({kRows, 4}, at::kLong);
  b.attention_mask[1][3] = 0;
  const int64_t side = mmaux::testing::kImageSide;
  b.pixels = at::randn({kRows, 3, side, side}, at::kDouble);
  b.pixel_mask = at::ones({kRows, side, side}, at::kLong);
  b.labels = at::tensor({0, 1, 2, 0, 0, 1}, at::kLong);
  b.relation = at::full({kRows}, -1, at::kLong);
  b.global_row = at::arange(kRows, at::kLong);
  b.sample_index = at::arange(kRows, at::kLong);
  b.post_ids.assign(kRows, "p");
  b.global_batch_size = kRows;
  return b;
}

JointLossOptions options(double ce, double itc, double itm, ItmMode mode = ItmMode::kRandom) {
  JointLossOptions o;
  o.weights = LossWeights{ce, itc, itm};
  o.itm_mode = mode;
  o.sampling_seed = 3;
  return o;
}

struct Fixture {
  std::shared_ptr<TwoTower> model = make_two_tower(5);
  std::shared_ptr<dist::Communicator> comm = dist::make_local_communicator();
  at::Tensor class_weights = at::tensor({0.5, 2.0, 1.0}, at::kDouble);
  LossModel loss_model() {
    return LossModel{*model, model->logit_scale(), class_weights, c10::kCPU};
  }
  model::Encoded encode(const data::Batch& b) {
    return model->encode(to_model_input(b, c10::Device(c10::kCPU)));
  }
};

// −log softmax(logits)_y per row.
at::Tensor nll(const at::Tensor& logits, const at::Tensor& labels) {
  return -at::log_softmax(logits, 1).gather(1, labels.unsqueeze(1)).squeeze(1);
}

double weighted_ce(Fixture& f, const data::Batch& b, bool by_weights) {
  at::Tensor logits = f.model->classify(f.encode(b).fused);
  at::Tensor w = f.class_weights.index_select(0, b.labels);
  at::Tensor sum = (w * nll(logits, b.labels)).sum();
  return (sum / (by_weights ? w.sum() : at::scalar_tensor(double(kRows)))).item<double>();
}

// ½ [CE(S, diag) + CE(Sᵀ, diag)], S = exp(s) · v̂ t̂ᵀ.
double itc(Fixture& f, const data::Batch& b) {
  model::Encoded e = f.encode(b);
  auto unit = [](const at::Tensor& x) { return x / x.norm(2, {1}, true); };
  at::Tensor s = f.model->logit_scale().exp() * unit(e.itc_image).matmul(unit(e.itc_text).t());
  at::Tensor diag = at::arange(kRows, at::kLong);
  return (0.5 * (nll(s, diag).mean() + nll(s.t(), diag).mean())).item<double>();
}

// Mean CE of the ITM head on the plan's pairs.
double itm(Fixture& f, const data::Batch& b, const loss::ItmPlan& plan) {
  model::ModelInput in = to_model_input(b, c10::Device(c10::kCPU));
  model::ModelInput pairs{in.input_ids.index_select(0, plan.text_rows),
                          in.attention_mask.index_select(0, plan.text_rows),
                          in.pixels.index_select(0, plan.image_rows),
                          in.pixel_mask.index_select(0, plan.image_rows)};
  return nll(f.model->itm_logits(pairs, at::Tensor()), plan.labels).mean().item<double>();
}

TEST(JointLoss, CeAloneIsTheWeightedCrossEntropy) {
  Fixture f;
  data::Batch b = batch(1);
  StepLosses l = joint_loss(f.loss_model(), b, 0, options(1, 0, 0), *f.comm);
  EXPECT_NEAR(l.ce, weighted_ce(f, b, false), 1e-12);
  EXPECT_NEAR(l.total.item<double>(), l.ce, 1e-12);
  EXPECT_EQ(l.itc, 0);
  EXPECT_EQ(l.itm, 0);
  EXPECT_FALSE(l.itm_plan.labels.defined());
  JointLossOptions by_weights = options(1, 0, 0);
  by_weights.ce_norm = CeNorm::kWeights;
  EXPECT_NEAR(joint_loss(f.loss_model(), b, 0, by_weights, *f.comm).ce, weighted_ce(f, b, true),
              1e-12);
}

TEST(JointLoss, TheThreeTermsWeighted) {
  Fixture f;
  data::Batch b = batch(2);
  StepLosses l = joint_loss(f.loss_model(), b, 4, options(0.8, 0.1, 0.1), *f.comm);
  EXPECT_NEAR(l.ce, weighted_ce(f, b, false), 1e-12);
  EXPECT_NEAR(l.itc, itc(f, b), 1e-12);
  ASSERT_TRUE(l.itm_plan.labels.defined());
  EXPECT_EQ(l.itm_plan.labels.size(0), kRows);  // random mode: one pair per row
  EXPECT_TRUE(at::equal(l.itm_plan.image_rows, at::arange(kRows, at::kLong)));
  EXPECT_TRUE(
      at::equal(l.itm_plan.labels, l.itm_plan.text_rows.eq(l.itm_plan.image_rows).to(at::kLong)));
  EXPECT_NEAR(l.itm, itm(f, b, l.itm_plan), 1e-12);
  EXPECT_NEAR(l.total.item<double>(), 0.8 * l.ce + 0.1 * l.itc + 0.1 * l.itm, 1e-12);
  // The draws are a function of (seed, step): the same step draws the same pairs.
  StepLosses again = joint_loss(f.loss_model(), b, 4, options(0.8, 0.1, 0.1), *f.comm);
  EXPECT_TRUE(at::equal(again.itm_plan.text_rows, l.itm_plan.text_rows));
}

TEST(JointLoss, HardNegativesComeFromTheItcSimilaritiesEvenWithoutItc) {
  Fixture f;
  data::Batch b = batch(3);
  StepLosses l = joint_loss(f.loss_model(), b, 0, options(0.9, 0, 0.1, ItmMode::kHard), *f.comm);
  EXPECT_EQ(l.itc, 0);                              // not part of the loss ...
  ASSERT_EQ(l.itm_plan.labels.size(0), 3 * kRows);  // ... but its similarities drew the pairs
  EXPECT_EQ(l.itm_plan.labels.sum().item<int64_t>(), kRows);
  EXPECT_NEAR(l.itm, itm(f, b, l.itm_plan), 1e-12);
  EXPECT_NEAR(l.total.item<double>(), 0.9 * l.ce + 0.1 * l.itm, 1e-12);
}

TEST(JointLoss, GradientsReachOnlyWhatTheTermsUse) {
  Fixture f;
  data::Batch b = batch(4);
  joint_loss(f.loss_model(), b, 0, options(1, 0, 0), *f.comm).total.backward();
  auto p = f.model->named_parameters();
  EXPECT_TRUE(p["cls.weight"].grad().defined());
  EXPECT_FALSE(p["itm.weight"].grad().defined());
  EXPECT_FALSE(p["logit_scale"].grad().defined());
  f.model->clear_grads();
  joint_loss(f.loss_model(), b, 0, options(0.8, 0.1, 0.1), *f.comm).total.backward();
  EXPECT_TRUE(p["itm.weight"].grad().defined());
  ASSERT_TRUE(p["logit_scale"].grad().defined());
  EXPECT_NE(p["logit_scale"].grad().item<double>(), 0);
}

}  // namespace
}  // namespace mmaux::train

namespace mmaux::train {

// The model input carries a batch's region features (LXMERT) as float, float and int64, and
// leaves the fields undefined for a data set without regions.
TEST(JointLoss, ModelInputCarriesRegionFeatures) {
  data::Batch b = batch(1);
  model::ModelInput plain = to_model_input(b, c10::Device(c10::kCPU));
  EXPECT_FALSE(plain.region_features.defined() || plain.region_boxes.defined() ||
               plain.region_mask.defined());
  b.region_features = at::rand({kRows, 36, 5});
  b.region_boxes = at::rand({kRows, 36, 4});
  b.region_mask = at::ones({kRows, 36}, at::kLong);
  b.region_mask.narrow(1, 30, 6).zero_();
  model::ModelInput in = to_model_input(b, c10::Device(c10::kCPU));
  ASSERT_TRUE(in.region_features.defined() && in.region_boxes.defined() &&
              in.region_mask.defined());
  EXPECT_TRUE(at::equal(in.region_features, b.region_features));
  EXPECT_TRUE(at::equal(in.region_boxes, b.region_boxes));
  EXPECT_TRUE(at::equal(in.region_mask, b.region_mask));
  EXPECT_EQ(in.region_features.dtype(), at::kFloat);
  EXPECT_EQ(in.region_mask.dtype(), at::kLong);
}

}  // namespace mmaux::train
