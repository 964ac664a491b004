#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>

#include "mmaux/core/error.h"
#include "mmaux/loss/cross_entropy.h"

namespace mmaux::loss {
namespace {

TEST(BalancedWeights, MatchTheFormula) {
  at::Tensor w = balanced_class_weights({6, 2, 0, 4});
  // N = 12, C = 4: w_c = 12 / (4 n_c); an absent class gets 0.
  EXPECT_DOUBLE_EQ(w[0].item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(w[1].item<double>(), 1.5);
  EXPECT_DOUBLE_EQ(w[2].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(w[3].item<double>(), 0.75);
  EXPECT_THROW(balanced_class_weights({0, 0}), DataError);
}

TEST(CrossEntropy, BatchNormaliserIsThePapersOneOverN) {
  auto comm = dist::make_local_communicator();
  at::Tensor logits = at::tensor({1.0, 2.0, 0.5, -1.0, 0.0, 3.0}, at::kDouble).view({2, 3});
  at::Tensor labels = at::tensor({2, 1}, at::kLong);
  at::Tensor w = at::tensor({0.5, 2.0, 4.0}, at::kDouble);
  // Hand-computed: row 0 target 2, row 1 target 1.
  auto nll = [](double a, double b, double c, double t) {
    return -(t - std::log(std::exp(a) + std::exp(b) + std::exp(c)));
  };
  double l0 = nll(1.0, 2.0, 0.5, 0.5), l1 = nll(-1.0, 0.0, 3.0, 0.0);
  double batch = (4.0 * l0 + 2.0 * l1) / 2.0;
  double weights = (4.0 * l0 + 2.0 * l1) / 6.0;
  EXPECT_NEAR(cross_entropy(logits, labels, w, CeNorm::kBatch, *comm).item<double>(), batch, 1e-12);
  EXPECT_NEAR(cross_entropy(logits, labels, w, CeNorm::kWeights, *comm).item<double>(), weights,
              1e-12);
  // Without weights both are the plain mean.
  double mean = (l0 + l1) / 2.0;
  EXPECT_NEAR(cross_entropy(logits, labels, at::Tensor(), CeNorm::kWeights, *comm).item<double>(),
              mean, 1e-12);
  // A caller-known global N replaces the all-reduce.
  EXPECT_NEAR(cross_entropy(logits, labels, w, CeNorm::kBatch, *comm, 4).item<double>(),
              batch / 2.0, 1e-12);
  // "weights" matches libtorch's weighted nll_loss with mean reduction.
  at::Tensor ref = at::nll_loss(at::log_softmax(logits, 1), labels, w);
  EXPECT_NEAR(cross_entropy(logits, labels, w, CeNorm::kWeights, *comm).item<double>(),
              ref.item<double>(), 1e-12);
}

TEST(CrossEntropy, EmptyBatchIsZeroNotNan) {
  auto comm = dist::make_local_communicator();
  at::Tensor logits = at::zeros({0, 3}, at::kDouble).set_requires_grad(true);
  at::Tensor l =
      cross_entropy(logits, at::zeros({0}, at::kLong), at::Tensor(), CeNorm::kBatch, *comm);
  EXPECT_EQ(l.item<double>(), 0.0);
  l.backward();
}

TEST(CrossEntropy, SumsOverAnyPartitionGiveTheLossOfAllRows) {
  // Evaluation adds the sums over batches and ranks, then divides: the same loss as one call.
  auto comm = dist::make_local_communicator();
  at::manual_seed(2);
  at::Tensor logits = at::randn({7, 3}, at::kDouble);
  at::Tensor labels = at::tensor({0, 2, 1, 1, 0, 2, 2}, at::kLong);
  at::Tensor w = at::tensor({0.5, 2.0, 4.0}, at::kDouble);
  for (CeNorm norm : {CeNorm::kBatch, CeNorm::kWeights}) {
    double sum = 0, normaliser = 0;
    for (auto [from, rows] : {std::pair<int64_t, int64_t>{0, 3}, {3, 0}, {3, 4}}) {
      CeSums part =
          cross_entropy_sums(logits.narrow(0, from, rows), labels.narrow(0, from, rows), w, norm);
      EXPECT_EQ(part.normaliser.scalar_type(), at::kDouble);
      sum += part.weighted_nll.item<double>();
      normaliser += part.normaliser.item<double>();
    }
    EXPECT_NEAR(sum / normaliser, cross_entropy(logits, labels, w, norm, *comm).item<double>(),
                1e-12);
  }
  // kBatch counts rows, kWeights adds the targets' weights.
  EXPECT_DOUBLE_EQ(cross_entropy_sums(logits, labels, w, CeNorm::kBatch).normaliser.item<double>(),
                   7.0);
  EXPECT_DOUBLE_EQ(
      cross_entropy_sums(logits, labels, w, CeNorm::kWeights).normaliser.item<double>(), 17.0);
}

}  // namespace
}  // namespace mmaux::loss
