// The hand-written kernels of the model area against libtorch's own ops: the fused linear, the
// counter-based dropout (also keyed by global row) and the fused CPU self-attention (values,
// gradients, masks, dropout).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/autograd.h>

#include <cmath>

#include "mmaux/core/error.h"
#include "mmaux/model/dropout_rows.h"
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

/// Rows [first, first + count) of a batch-first tensor.
at::Tensor rows_of(const at::Tensor& x, int64_t first, int64_t count) {
  return x.narrow(0, first, count);
}

TEST(DropoutRows, RowsZeroToBMinusOneAreTheMasksWithoutAScope) {
  at::Tensor x = at::randn({5, 7, 3});
  at::manual_seed(4);
  at::Tensor plain = apply_dropout(x, 0.4, true);
  at::manual_seed(4);
  DropoutRows rows(DropoutRows::range(0, 5));
  EXPECT_TRUE(at::equal(apply_dropout(x, 0.4, true), plain));
}

/// A slice of a batch dropped in a scope naming its global rows gets exactly the masks those
/// rows get in the whole batch (same seed): float, double and bfloat16, and the gradient.
TEST(DropoutRows, ASliceGetsTheMasksOfItsRowsInTheWholeBatch) {
  for (at::ScalarType dtype : {at::kFloat, at::kDouble, at::kBFloat16}) {
    at::Tensor whole = at::randn({9, 4, 6}).to(dtype);
    at::manual_seed(8);
    at::Tensor all = apply_dropout(whole, 0.5, true);
    for (auto [first, count] : {std::pair<int64_t, int64_t>{3, 4}, {8, 1}, {0, 2}}) {
      at::Tensor part = rows_of(whole, first, count).clone().requires_grad_(dtype != at::kBFloat16);
      at::manual_seed(8);
      at::Tensor dropped;
      {
        DropoutRows rows(DropoutRows::range(first, count));
        dropped = apply_dropout(part, 0.5, true);
      }
      EXPECT_TRUE(at::equal(dropped.detach(), rows_of(all, first, count)))
          << at::toString(dtype) << " rows " << first << "+" << count;
      if (dtype == at::kBFloat16) continue;
      dropped.sum().backward();  // outside the scope: the rows travel with the autograd node
      EXPECT_TRUE(at::equal(part.grad(), rows_of(all, first, count).ne(0).to(dtype) * 2.0));
    }
  }
}

TEST(DropoutRows, ScopesNestAndAWrongRowCountIsABug) {
  EXPECT_EQ(DropoutRows::current(), nullptr);
  {
    DropoutRows outer({4, 5});
    {
      DropoutRows inner({7});
      ASSERT_NE(DropoutRows::current(), nullptr);
      EXPECT_EQ(*DropoutRows::current(), std::vector<int64_t>{7});
      EXPECT_THROW(apply_dropout(at::ones({2, 3}), 0.5, true), InternalError);
    }
    EXPECT_EQ(*DropoutRows::current(), (std::vector<int64_t>{4, 5}));
    EXPECT_NO_THROW(apply_dropout(at::ones({2, 3}), 0.5, true));
  }
  EXPECT_EQ(DropoutRows::current(), nullptr);
  EXPECT_THROW(DropoutRows({-1}), Error);
}

/// The attention probabilities' dropout (fused kernel and generic path) is keyed the same way.
TEST(DropoutRows, AttentionOfASliceEqualsItsRowsInTheWholeBatch) {
  const int64_t b = 5, L = 6, D = 8, heads = 2;
  at::Tensor qkv = at::randn({b, L, 3 * D}, at::kDouble);
  at::Tensor weights = at::randn({b, L, D}, at::kDouble);
  for (bool fused : {true, false}) {
    if (fused && !fused_attention_available()) continue;
    at::Tensor x = qkv.clone().requires_grad_(true);
    at::manual_seed(21);
    at::Tensor all = packed_self_attention(x, at::Tensor(), heads, 0.3, true, fused);
    (all * weights).sum().backward();
    at::Tensor part = rows_of(qkv, 2, 3).clone().requires_grad_(true);
    at::manual_seed(21);
    at::Tensor out;
    {
      DropoutRows rows(DropoutRows::range(2, 3));
      out = packed_self_attention(part, at::Tensor(), heads, 0.3, true, fused);
    }
    (out * rows_of(weights, 2, 3)).sum().backward();
    EXPECT_LT(max_diff(out.detach(), rows_of(all.detach(), 2, 3)), 1e-14) << "fused " << fused;
    EXPECT_LT(max_diff(part.grad(), rows_of(x.grad(), 2, 3)), 1e-14) << "fused " << fused;
  }
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
