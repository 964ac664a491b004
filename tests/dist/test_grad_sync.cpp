// GradSync over real MPI ranks and over 1, 2 and 4 threads (support/collective_test.h): start-up
// broadcast, architecture check, bucketed averaging
// against closed forms, unused parameters, gradient accumulation, divergence check.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "mmaux/config/dist_options.h"
#include "mmaux/core/error.h"
#include "mmaux/dist/grad_sync.h"
#include "support/collective_test.h"

namespace mmaux::dist {
namespace {

DistOptions sync_options() {
  DistOptions o;
  o.timeout_s = 60;
  o.bucket_mb = 40.0 / (1024 * 1024);  // 40 bytes: 5 float64 per bucket
  return o;
}

/// Three parameters, initialised from rank r's number (so that only a broadcast makes them
/// equal), and a frozen one.
NamedTensors make_params(int r) {
  NamedTensors p;
  p.emplace_back("a", at::full({3}, 1.0 + r, at::kDouble).set_requires_grad(true));
  p.emplace_back("b", at::full({2, 4}, 2.0 + r, at::kDouble).set_requires_grad(true));
  p.emplace_back("c", at::full({2}, 3.0 + r, at::kDouble).set_requires_grad(true));
  p.emplace_back("frozen", at::full({2}, 4.0 + r, at::kDouble));
  return p;
}

MMAUX_COLLECTIVE_TEST(GradSyncTest, BroadcastsRankZerosParametersAndBuffers, 60) {
  DistOptions options = sync_options();
  NamedTensors p = make_params(r);
  NamedTensors buffers{{"running", at::full({2}, 10.0 + r, at::kDouble)}};
  GradSync sync(p, buffers, comm, options);
  EXPECT_TRUE(at::equal(p[0].second, at::full({3}, 1.0, at::kDouble)));
  EXPECT_TRUE(at::equal(p[1].second, at::full({2, 4}, 2.0, at::kDouble)));
  EXPECT_TRUE(at::equal(p[3].second, at::full({2}, 4.0, at::kDouble)));
  EXPECT_TRUE(at::equal(buffers[0].second, at::full({2}, 10.0, at::kDouble)));
  if (w > 1) {
    // Reverse order, 40-byte cap: [c, b] closes at 80 bytes, then [a].
    ASSERT_EQ(sync.num_buckets(), 2);
    EXPECT_EQ(sync.bucket_names(0), (std::vector<std::string>{"c", "b"}));
    EXPECT_EQ(sync.bucket_names(1), (std::vector<std::string>{"a"}));
  }
}

MMAUX_COLLECTIVE_TEST(GradSyncTest, AveragesGradientsAndKeepsUnusedOnesUndefined, 60) {
  DistOptions options = sync_options();
  NamedTensors p = make_params(r);
  GradSync sync(p, {}, comm, options);
  // Loss on rank r: (r + 1) Σ a + Σ b² ; "c" is used on rank 0 only (when W > 1).
  for (int step = 0; step < 2; ++step) {
    for (auto& [n, t] : p) t.mutable_grad() = at::Tensor();
    at::Tensor loss = (r + 1.0) * p[0].second.sum() + p[1].second.pow(2).sum();
    if (r == 0) loss = loss + 5.0 * p[2].second.sum();
    loss.backward();
    sync.finish();
    const double mean_r1 = (w + 1) / 2.0;  // mean of r + 1
    EXPECT_TRUE(at::allclose(p[0].second.grad(), at::full({3}, mean_r1, at::kDouble)));
    EXPECT_TRUE(at::allclose(p[1].second.grad(), 2.0 * p[1].second.detach()));
    // Used on one rank: defined everywhere, averaged with zeros.
    ASSERT_TRUE(p[2].second.grad().defined());
    EXPECT_TRUE(at::allclose(p[2].second.grad(), at::full({2}, 5.0 / w, at::kDouble)));
    EXPECT_FALSE(p[3].second.grad().defined());
  }
  // A parameter no rank uses keeps an undefined gradient on every rank.
  for (auto& [n, t] : p) t.mutable_grad() = at::Tensor();
  (p[0].second.sum() * 2.0).backward();
  sync.finish();
  EXPECT_TRUE(p[0].second.grad().defined());
  EXPECT_FALSE(p[1].second.grad().defined());
  EXPECT_FALSE(p[2].second.grad().defined());
}

MMAUX_COLLECTIVE_TEST(GradSyncTest, AccumulatesMicroBatchesWithSyncOff, 60) {
  DistOptions options = sync_options();
  NamedTensors p = make_params(r);
  GradSync sync(p, {}, comm, options);
  for (auto& [n, t] : p) t.mutable_grad() = at::Tensor();
  sync.set_sync(false);
  ((r + 1.0) * p[0].second.sum()).backward();  // micro-batch 1
  (3.0 * p[1].second.sum()).backward();        // micro-batch 2 (only b)
  sync.set_sync(true);
  ((r + 1.0) * 10.0 * p[0].second.sum()).backward();  // last micro-batch
  sync.finish();
  const double mean_r1 = (w + 1) / 2.0;
  EXPECT_TRUE(at::allclose(p[0].second.grad(), at::full({3}, 11.0 * mean_r1, at::kDouble)));
  EXPECT_TRUE(at::allclose(p[1].second.grad(), at::full({2, 4}, 3.0, at::kDouble)));
}

// An embedding-sized table goes the row-sparse way: each rank touches its own rows and rows
// every rank shares (one rank, when W > 1, none at all); the result must be the dense average,
// computed here from an all-gather of the raw gradients. An all-zero gradient stays defined.
MMAUX_COLLECTIVE_TEST(GradSyncTest, EmbeddingTablesAverageByRows, 60) {
  DistOptions options = sync_options();
  const int64_t rows = 9000, dim = 3;
  NamedTensors p;
  p.emplace_back("word_embeddings.weight",
                 at::zeros({rows, dim}, at::kDouble).set_requires_grad(true));
  p.emplace_back("dense", at::ones({2}, at::kDouble).set_requires_grad(true));
  GradSync sync(p, {}, comm, options);
  at::Tensor& table = p[0].second;
  for (int step = 0; step < 2; ++step) {
    for (auto& [n, t] : p) t.mutable_grad() = at::Tensor();
    at::Tensor loss = p[1].second.sum();
    const bool silent = w > 1 && r == w - 1;  // this rank's table gets no gradient
    if (!silent) {
      at::Tensor ids = at::tensor(
          {int64_t{5}, int64_t{100 + r}, int64_t{8999 - 7 * r}, int64_t{5}, int64_t{4000 + step}},
          at::kLong);
      at::Tensor weights = at::arange(1, 1 + 5 * dim, at::kDouble).view({5, dim}) * (r + 1);
      loss = loss + (table.index_select(0, ids) * weights).sum();
    }
    loss.backward();
    at::Tensor mine = table.grad().defined() ? table.grad().clone() : at::zeros_like(table);
    at::Tensor expected = comm->all_gather(mine.unsqueeze(0)).sum(0) / w;
    sync.finish();
    ASSERT_TRUE(table.grad().defined());
    EXPECT_TRUE(at::allclose(table.grad(), expected, 1e-15, 0)) << "step " << step;
    // The row mask marks the rows some rank touched: the non-zero rows of the sum of |grad|.
    at::Tensor touched = comm->all_gather(mine.abs().unsqueeze(0)).sum(0).ne(0).any(1);
    if (w == 1) {
      EXPECT_TRUE(sync.row_masks().empty());  // one rank: nothing to synchronise
    } else {
      const std::vector<uint8_t>& mask = sync.row_masks().at("word_embeddings.weight");
      ASSERT_EQ(static_cast<int64_t>(mask.size()), rows);
      for (int64_t r = 0; r < rows; ++r) {
        ASSERT_EQ(mask[r] != 0, touched[r].item<bool>()) << "row " << r;
      }
    }
    EXPECT_GT(table.grad().abs().sum().item<double>(), 0);
    EXPECT_TRUE(at::allclose(p[1].second.grad(), at::ones({2}, at::kDouble)));
  }
}

MMAUX_COLLECTIVE_TEST(GradSyncTest, DifferentArchitecturesAreNamed, 60) {
  DistOptions options = sync_options();
  NamedTensors p = make_params(r);
  if (r == w - 1 && w > 1) {
    p[1].second = at::zeros({2, 5}, at::kDouble).set_requires_grad(true);  // b is [2, 5] here
  }
  if (w == 1) {
    EXPECT_NO_THROW(GradSync(p, {}, comm, options));
    return;
  }
  try {
    GradSync sync(p, {}, comm, options);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("'b Double [2, 4] grad' on rank 0"), std::string::npos) << msg;
    EXPECT_NE(msg.find(fmt::format("'b Double [2, 5] grad' on rank {}", w - 1)), std::string::npos)
        << msg;
  }
}

MMAUX_COLLECTIVE_TEST(GradSyncTest, DivergenceCheckNamesTheRankThatDiffers, 60) {
  DistOptions options = sync_options();
  options.divergence_check_every = 3;
  NamedTensors p = make_params(r);
  GradSync sync(p, {}, comm, options);
  EXPECT_NO_THROW(sync.check_divergence(3));
  if (r == w - 1 && w > 1) {
    at::NoGradGuard no_grad;
    p[0].second[0].add_(1e-12);
  }
  EXPECT_NO_THROW(sync.check_divergence(4));  // not a multiple of 3: nothing compared
  if (w == 1) return;
  try {
    sync.check_divergence(6);
    FAIL() << "expected CommError";
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find(fmt::format("rank(s) {} differ", w - 1)),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mmaux::dist
