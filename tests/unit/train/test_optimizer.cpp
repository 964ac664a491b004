#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <memory>

#include "mmaux/core/error.h"
#include "mmaux/train/optimizer.h"

namespace mmaux::train {
namespace {

TEST(AdamW, MatchesClosedFormFirstSteps) {
  // One scalar parameter p0 = 1 with constant gradient g = 0.5: m_t = g (1-b1^t),
  // v_t = g^2 (1-b2^t); bias-corrected m/v = g and g^2, so each step moves -lr * g/(|g|+eps')
  // after decoupled decay p *= (1 - lr*wd).
  at::Tensor p = at::ones({1}, at::kDouble).set_requires_grad(true);
  AdamW opt({ParamGroup{"decay", 0.1, {"p"}, {p}}}, AdamWOptions{0.9, 0.999, 1e-8});
  double expected = 1.0, lr = 0.01;
  for (int t = 1; t <= 3; ++t) {
    p.mutable_grad() = at::full({1}, 0.5, at::kDouble);
    opt.step(lr);
    expected *= 1 - lr * 0.1;
    double bc2 = 1 - std::pow(0.999, t);
    double vhat_sqrt = std::sqrt(0.25 * bc2) / std::sqrt(bc2);
    expected -= lr * 0.5 / (vhat_sqrt + 1e-8);
    EXPECT_NEAR(p.item<double>(), expected, 1e-12) << "step " << t;
  }
}

// The fused CPU update (contiguous float/double) against libtorch's op sequence, which runs for
// a non-contiguous parameter with the same values.
TEST(AdamW, FusedUpdateMatchesTheOpSequence) {
  for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    at::manual_seed(5);
    at::Tensor init = at::randn({40, 7}, dtype);
    at::Tensor fused = init.clone().set_requires_grad(true);
    at::Tensor strided = at::empty({7, 40}, dtype).t();  // [40, 7], not contiguous
    {
      at::NoGradGuard ng;
      strided.copy_(init);
    }
    strided.set_requires_grad(true);
    AdamW a({ParamGroup{"decay", 0.05, {"w"}, {fused}}});
    AdamW b({ParamGroup{"decay", 0.05, {"w"}, {strided}}});
    for (int i = 0; i < 5; ++i) {
      at::Tensor g = at::randn({40, 7}, dtype);
      fused.mutable_grad() = g;
      strided.mutable_grad() = g.clone();
      a.step(0.01);
      b.step(0.01);
    }
    const double tol = dtype == at::kFloat ? 1e-6 : 1e-14;
    EXPECT_LT((fused - strided).abs().max().item<double>(), tol) << dtype;
    EXPECT_GT((fused - init).abs().max().item<double>(), 1e-3);  // it moved
    auto sa = a.state(), sb = b.state();
    EXPECT_LT((sa["w.exp_avg_sq"] - sb["w.exp_avg_sq"]).abs().max().item<double>(), tol);
  }
}

// An embedding table (>= 8192 rows) is updated row by row, skipping the moment arithmetic of
// rows that never had a gradient. The result must be bit-identical to the dense update of the
// same values (a 1-d parameter), also across a state() → load_state() round trip.
TEST(AdamW, EmbeddingRowsSkipExactly) {
  for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    const int64_t rows = 9000, dim = 5;
    at::manual_seed(9);
    at::Tensor init = at::randn({rows, dim}, dtype);
    at::Tensor table = init.clone().set_requires_grad(true);
    at::Tensor flat = init.reshape({-1}).clone().set_requires_grad(true);
    auto rows_opt =
        std::make_unique<AdamW>(std::vector<ParamGroup>{{"decay", 0.1, {"t"}, {table}}});
    AdamW dense({ParamGroup{"decay", 0.1, {"t"}, {flat}}});
    for (int step = 0; step < 6; ++step) {
      at::Tensor g = at::zeros({rows, dim}, dtype);
      g.index_put_({at::randint(0, rows, {40}, at::kLong)}, at::randn({40, dim}, dtype));
      if (step == 2) g[7].fill_(-0.0);  // a signed zero is a zero gradient
      table.mutable_grad() = g;
      flat.mutable_grad() = g.reshape({-1}).clone();
      if (step % 2 == 0) {
        rows_opt->step(0.01);
      } else {  // with hints, as GradSync gives them: a superset of the non-zero rows
        at::Tensor nonzero = g.ne(0).any(1).to(at::kByte).contiguous();
        std::vector<uint8_t> hint(nonzero.data_ptr<uint8_t>(), nonzero.data_ptr<uint8_t>() + rows);
        for (int64_t r = 0; r < rows; r += 97) hint[r] = 1;
        AdamW::RowHints hints{{"t", hint}};
        rows_opt->step(0.01, &hints);
      }
      dense.step(0.01);
      if (step == 3) {  // resume: the active rows are recomputed from the moments
        auto state = rows_opt->state();
        rows_opt = std::make_unique<AdamW>(std::vector<ParamGroup>{{"decay", 0.1, {"t"}, {table}}});
        rows_opt->load_state(state);
      }
    }
    EXPECT_TRUE(at::equal(table.detach().reshape({-1}), flat.detach())) << dtype;
    EXPECT_TRUE(
        at::equal(rows_opt->state()["t.exp_avg_sq"].reshape({-1}), dense.state()["t.exp_avg_sq"]));
    EXPECT_FALSE(at::equal(table.detach(), init));
  }
}

TEST(AdamW, StateRoundTripContinuesIdentically) {
  auto make = [] { return at::arange(6, at::kDouble).reshape({2, 3}).set_requires_grad(true); };
  at::Tensor a = make(), b = make();
  AdamW oa({ParamGroup{"decay", 0.01, {"w"}, {a}}});
  for (int i = 0; i < 2; ++i) {
    a.mutable_grad() = at::full({2, 3}, 0.1 * (i + 1), at::kDouble);
    oa.step(0.1);
  }
  {
    at::NoGradGuard g;
    b.copy_(a);
  }
  AdamW ob({ParamGroup{"decay", 0.01, {"w"}, {b}}});
  auto state = oa.state();
  ob.load_state(state);
  a.mutable_grad() = at::full({2, 3}, 0.7, at::kDouble);
  b.mutable_grad() = at::full({2, 3}, 0.7, at::kDouble);
  oa.step(0.1);
  ob.step(0.1);
  EXPECT_TRUE(at::equal(a, b));
}

TEST(AdamW, MissingStateIsNamed) {
  at::Tensor a = at::zeros({2}).set_requires_grad(true);
  AdamW o({ParamGroup{"decay", 0.0, {"enc.w"}, {a}}});
  try {
    o.load_state({});
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("enc.w.exp_avg"), std::string::npos);
  }
}

TEST(ParamGroups, NoDecayOnBiasAndNormUnlessPaper) {
  at::Tensor w = at::zeros({2, 2}).set_requires_grad(true);
  at::Tensor bias = at::zeros({2}).set_requires_grad(true);
  at::Tensor frozen = at::zeros({2, 2});
  std::vector<std::pair<std::string, at::Tensor>> named = {
      {"l.weight", w}, {"l.bias", bias}, {"frozen.weight", frozen}};
  auto groups = make_param_groups(named, 0.01, false);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].names, std::vector<std::string>{"l.weight"});
  EXPECT_EQ(groups[1].names, std::vector<std::string>{"l.bias"});
  EXPECT_EQ(groups[1].weight_decay, 0.0);
  auto paper = make_param_groups(named, 2.5e-4, true);
  ASSERT_EQ(paper.size(), 1u);
  EXPECT_EQ(paper[0].names.size(), 2u);  // frozen parameter excluded
  EXPECT_EQ(paper[0].weight_decay, 2.5e-4);
}

TEST(Schedule, WarmupThenDecay) {
  EXPECT_DOUBLE_EQ(scheduled_lr(Schedule::kConstant, 1.0, 0, 5, 10), 1.0);
  EXPECT_DOUBLE_EQ(scheduled_lr(Schedule::kLinear, 1.0, 2, 0, 10), 0.0);
  EXPECT_DOUBLE_EQ(scheduled_lr(Schedule::kLinear, 1.0, 2, 1, 10), 0.5);
  EXPECT_DOUBLE_EQ(scheduled_lr(Schedule::kLinear, 1.0, 2, 2, 10), 1.0);
  EXPECT_DOUBLE_EQ(scheduled_lr(Schedule::kLinear, 1.0, 2, 6, 10), 0.5);
  EXPECT_DOUBLE_EQ(scheduled_lr(Schedule::kLinear, 1.0, 2, 10, 10), 0.0);
  EXPECT_NEAR(scheduled_lr(Schedule::kCosine, 1.0, 0.2, 6, 10), 0.5, 1e-12);  // warmup 2, halfway
  EXPECT_DOUBLE_EQ(scheduled_lr(Schedule::kConstant, 1.0, 0.5, 1, 4), 0.5);
}

}  // namespace
}  // namespace mmaux::train
