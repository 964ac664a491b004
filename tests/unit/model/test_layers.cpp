// The hand-written kernels of the model area against libtorch's own ops: the fused linear, the
// counter-based dropout and the fused CPU self-attention (values, gradients, masks, dropout).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>

#include <cmath>

#include "mmaux/core/error.h"
#include "mmaux/model/encoders.h"
#include "mmaux/model/layers.h"
#include "model_test_util.h"

namespace mmaux::model {
namespace {

using testing::max_diff;

TEST(Linear, MatchesLibtorchOnThreeDimensionalInputs) {
  at::Tensor x = at::randn({3, 5, 8}, at::kDouble), w = at::randn({4, 8}, at::kDouble);
  at::Tensor b = at::randn({4}, at::kDouble);
  EXPECT_LT(max_diff(linear(x, w, b), at::linear(x, w, b)), 1e-12);
  EXPECT_LT(max_diff(linear(x.transpose(0, 1), w, b), at::linear(x.transpose(0, 1), w, b)), 1e-12);
  EXPECT_LT(max_diff(linear(x, w, at::Tensor()), at::linear(x, w)), 1e-12);
  EXPECT_EQ(linear(x, w, b).sizes(), (std::vector<int64_t>{3, 5, 4}));
}

TEST(PatchEmbedding, TokensEqualTheConvolution) {
  PatchEmbedding patch(3, 10, 4);
  patch.to(at::kDouble);
  for (auto [h, w] : {std::pair<int64_t, int64_t>{8, 12}, {4, 4}, {16, 8}}) {
    at::Tensor pixels = at::randn({2, 3, h, w}, at::kDouble);
    at::Tensor conv = patch.forward(pixels).flatten(2).transpose(1, 2);
    EXPECT_EQ(patch.tokens(pixels).sizes(), conv.sizes());
    EXPECT_LT(max_diff(patch.tokens(pixels), conv), 1e-12) << h << "x" << w;
  }
}

TEST(Dropout, KeepsOneMinusPAndScales) {
  at::Tensor x = at::ones({1000, 1000});
  at::Tensor y = apply_dropout(x, 0.1, true);
  const double kept = y.ne(0).to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(kept, 0.9, 0.002);  // 10⁶ Bernoulli(0.9): sd 3·10⁻⁴
  EXPECT_NEAR(y.sum().item<double>() / 1e6, 1.0, 0.004);
  EXPECT_TRUE(
      at::equal(y.masked_select(y.ne(0)), at::full({y.ne(0).sum().item<int64_t>()}, 1.0f / 0.9f)));
  EXPECT_TRUE(at::equal(apply_dropout(x, 0.1, false), x));  // evaluation: identity
  EXPECT_TRUE(at::equal(apply_dropout(x, 0.0, true), x));
  EXPECT_THROW(apply_dropout(x, 1.0, true), Error);
}

TEST(Dropout, FollowsTheTorchSeedNotTheThreadCount) {
  at::Tensor x = at::randn({300, 301});
  const int threads = at::get_num_threads();
  at::manual_seed(7);
  at::Tensor a = apply_dropout(x, 0.3, true);
  at::Tensor b = apply_dropout(x, 0.3, true);
  EXPECT_FALSE(at::equal(a, b));  // a fresh mask per call
  at::set_num_threads(1);
  at::manual_seed(7);
  at::Tensor c = apply_dropout(x, 0.3, true);
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(a, c));
}

TEST(Dropout, GradientIsTheMask) {
  at::Tensor x = at::randn({64, 33}, at::kDouble).requires_grad_(true);
  at::Tensor y = apply_dropout(x, 0.25, true);
  y.sum().backward();
  at::Tensor expected = y.detach().ne(0).to(at::kDouble) / 0.75;
  EXPECT_LT(max_diff(x.grad(), expected), 1e-15);
}

struct AttentionCase {
  int64_t b, L, D, heads;
  bool padded;
};

class FusedAttention : public ::testing::TestWithParam<AttentionCase> {};

/// Values and gradients of the fused kernel against the generic path (split heads, matmul,
/// softmax, matmul) in float64, with and without padded keys.
TEST_P(FusedAttention, MatchesTheGenericPathWithoutDropout) {
  if (!fused_attention_available()) GTEST_SKIP() << "no CBLAS in the process";
  const AttentionCase c = GetParam();
  at::manual_seed(3);
  at::Tensor qkv = at::randn({c.b, c.L, 3 * c.D}, at::kDouble);
  at::Tensor bias;
  if (c.padded) {
    at::Tensor mask = at::ones({c.b, c.L}, at::kLong);
    mask[0].narrow(0, c.L - 2, 2).fill_(0);
    bias = attention_bias(mask, at::kDouble);
  }
  at::Tensor weights = at::randn({c.b, c.L, c.D}, at::kDouble);
  auto run = [&](bool fused) {
    at::Tensor x = qkv.clone().requires_grad_(true);
    at::Tensor out = packed_self_attention(x, bias, c.heads, 0.1, false, fused);
    (out * weights).sum().backward();
    return std::make_pair(out.detach(), x.grad());
  };
  auto [fused_out, fused_grad] = run(true);
  auto [generic_out, generic_grad] = run(false);
  EXPECT_LT(max_diff(fused_out, generic_out), 1e-12);
  EXPECT_LT(max_diff(fused_grad, generic_grad), 1e-12);
}

TEST_P(FusedAttention, FloatMatchesDouble) {
  if (!fused_attention_available()) GTEST_SKIP() << "no CBLAS in the process";
  const AttentionCase c = GetParam();
  at::Tensor qkv = at::randn({c.b, c.L, 3 * c.D}, at::kDouble);
  at::Tensor a = packed_self_attention(qkv, at::Tensor(), c.heads, 0, false, true);
  at::Tensor f = packed_self_attention(qkv.to(at::kFloat), at::Tensor(), c.heads, 0, false, true);
  EXPECT_LT(max_diff(a, f), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Shapes, FusedAttention,
                         ::testing::Values(AttentionCase{2, 7, 12, 3, false},
                                           AttentionCase{3, 9, 16, 4, true},
                                           AttentionCase{1, 1, 8, 2, false},
                                           AttentionCase{4, 17, 32, 1, true}));

/// With dropout, the gradient must be that of the function the forward computed: a central
/// finite difference of a few inputs, each evaluation under the same torch seed (hence the same
/// mask), against the analytic gradient.
TEST(FusedAttentionDropout, GradientMatchesFiniteDifferences) {
  if (!fused_attention_available()) GTEST_SKIP() << "no CBLAS in the process";
  const int64_t b = 2, L = 6, D = 8, heads = 2;
  at::Tensor qkv = at::randn({b, L, 3 * D}, at::kDouble);
  at::Tensor weights = at::randn({b, L, D}, at::kDouble);
  auto loss = [&](const at::Tensor& x) {
    at::manual_seed(11);
    return (packed_self_attention(x, at::Tensor(), heads, 0.3, true, true) * weights).sum();
  };
  at::Tensor x = qkv.clone().requires_grad_(true);
  loss(x).backward();
  at::Tensor grad = x.grad();
  const double eps = 1e-6;
  for (int64_t index : {0, 5, 17, 30, 61, 100, 143, 200, 287}) {
    at::Tensor plus = qkv.clone(), minus = qkv.clone();
    plus.view({-1})[index] += eps;
    minus.view({-1})[index] -= eps;
    const double numeric = (loss(plus).item<double>() - loss(minus).item<double>()) / (2 * eps);
    EXPECT_NEAR(grad.view({-1})[index].item<double>(), numeric, 1e-7) << "element " << index;
  }
  // Dropout is really applied: the same seed gives the same output, another seed another one.
  at::manual_seed(11);
  at::Tensor a = packed_self_attention(qkv, at::Tensor(), heads, 0.3, true, true);
  at::manual_seed(11);
  at::Tensor same = packed_self_attention(qkv, at::Tensor(), heads, 0.3, true, true);
  at::Tensor other = packed_self_attention(qkv, at::Tensor(), heads, 0.3, true, true);
  EXPECT_TRUE(at::equal(a, same));
  EXPECT_FALSE(at::equal(a, other));
  EXPECT_FALSE(at::equal(a, packed_self_attention(qkv, at::Tensor(), heads, 0.3, false, true)));
}

TEST(FusedAttentionModel, WholeModelAgreesWithTheGenericPath) {
  if (!fused_attention_available()) GTEST_SKIP() << "no CBLAS in the process";
  for (const char* name : {"ber-vit-concat", "ber-vit-att", "vilt"}) {
    auto model = make_model(testing::tiny_options(name), 3);
    model->to(at::kDouble);
    model->eval();
    ModelInput in = testing::random_input(2, 8, 64, 64, 1000);
    in.pixels = in.pixels.to(at::kDouble);
    set_fused_attention(false);
    at::Tensor generic = model->classify(model->encode(in).fused);
    set_fused_attention(true);
    at::Tensor fused = model->classify(model->encode(in).fused);
    EXPECT_LT(max_diff(generic, fused), 1e-10) << name;
  }
}

}  // namespace
}  // namespace mmaux::model
