// Contrastive accumulation (issue 15, train::contrastive_accumulation_step): k micro-batches on
// each of W ranks train exactly like one process on the global batch of all of them, with
// train::joint_loss as that process's objective (CE + ITC + ITM, float64, encoder dropout off and
// on), over 4 SGD steps: the same losses, ITM pairs and parameters. Plain accumulation (each
// micro-batch's own objective, averaged: what --train.contrastive-accumulation false runs) is
// shown to be a different objective whenever k > 1, and the same one at k = 1.
//
// Every rank computes the single-process reference itself with a local communicator. Dropout
// masks come from libtorch's CPU generator: each step reseeds it to the same state before the
// reference, the accumulated step and the plain one, on every rank.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>

#include "dist/global_batch.h"
#include "dist/two_tower.h"
#include "mmaux/dist/grad_sync.h"
#include "mmaux/loss/cross_entropy.h"
#include "mmaux/train/contrastive_accumulation.h"
#include "mmaux/train/joint_loss.h"
#include "support/mpi_support.h"

namespace mmaux {
namespace {

using testing::global_batch;
using testing::make_two_tower;
using testing::micro_batches;
using testing::TwoTower;

constexpr int64_t kRows = 16;  // the accumulated global batch
constexpr int kSteps = 4;
constexpr uint64_t kSeed = 7;
constexpr double kTol = 1e-10;

struct Case {
  int k;           // micro-batches per step
  double dropout;  // of the two-tower model's encoders and classifier
  ItmMode mode;
  std::string name() const {
    return "k=" + std::to_string(k) + " dropout=" + std::to_string(dropout) +
           (mode == ItmMode::kHard ? " hard" : " random");
  }
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name(); }

/// 0.6 CE + 0.2 ITC + 0.2 ITM; random ITM with the kWeights CE normaliser, hard with kBatch.
train::JointLossOptions objective(ItmMode mode, int64_t random_group) {
  train::JointLossOptions o;
  o.weights = LossWeights{0.6, 0.2, 0.2};
  o.itm_mode = mode;
  o.ce_norm = mode == ItmMode::kHard ? CeNorm::kBatch : CeNorm::kWeights;
  o.sampling_seed = kSeed;
  o.random_itm_group = random_group;
  return o;
}

train::LossModel loss_model(TwoTower& m) {
  return train::LossModel{m, m.logit_scale(), loss::balanced_class_weights({5, 2, 3}),
                          c10::Device(c10::kCPU)};
}

double mean_over_ranks(double v, dist::Communicator& comm) {
  at::Tensor t = at::full({1}, v, at::kDouble);
  comm.all_reduce(t, dist::ReduceOp::kAvg);
  return t.item<double>();
}

double rel_diff(const at::Tensor& a, const at::Tensor& b) {
  double scale = std::max(b.abs().max().item<double>(), 1e-30);
  return (a - b).abs().max().item<double>() / scale;
}

double worst_parameter_diff(TwoTower& got, TwoTower& want) {
  auto ref = want.named_parameters();
  double d = 0;
  for (const auto& p : got.named_parameters()) d = std::max(d, rel_diff(p.value(), ref[p.key()]));
  return d;
}

class ContrastiveAccumulation : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    options_ = testing::mpi_test_options(60, 0.0005);  // several buckets
    comm_ = testing::mpi_test_communicator(options_);
    local_ = dist::make_local_communicator();
    w_ = comm_->world_size();
  }
  std::shared_ptr<dist::Communicator> comm_, local_;
  DistOptions options_;
  int w_ = 1;
};

TEST_P(ContrastiveAccumulation, MicroBatchesOnRanksTrainLikeOneProcess) {
  const Case c = GetParam();
  ASSERT_EQ(kRows % (c.k * w_), 0);
  const int64_t b = kRows / (c.k * w_);  // rows one rank holds of one micro-batch
  auto reference = make_two_tower(kSeed, c.dropout);
  auto accumulated = make_two_tower(kSeed, c.dropout);
  auto plain = make_two_tower(kSeed, c.dropout);
  dist::GradSync sync(*accumulated, comm_, options_);
  dist::GradSync plain_sync(*plain, comm_, options_);
  double plain_gap = 0;
  for (int64_t step = 0; step < kSteps; ++step) {
    data::Batch g = global_batch(step, kRows);
    std::vector<data::Batch> micro = micro_batches(g, c.k, w_, comm_->rank());
    const uint64_t dropout_seed = 500 + static_cast<uint64_t>(step);

    at::manual_seed(dropout_seed);
    reference->clear_grads();
    train::StepLosses ref =
        train::joint_loss(loss_model(*reference), g, step, objective(c.mode, b), *local_);
    ref.total.backward();
    reference->sgd_step(0.5);

    at::manual_seed(dropout_seed);
    accumulated->clear_grads();
    train::AccumulationHooks hooks;
    hooks.before_backward = [&](int j, int count, at::Tensor&) { sync.set_sync(j == count - 1); };
    train::AccumulatedStep got = train::contrastive_accumulation_step(
        loss_model(*accumulated), micro, step, objective(c.mode, 0), *comm_, hooks);
    sync.finish();
    accumulated->sgd_step(0.5);

    // Plain accumulation: each micro-batch's joint loss, averaged (the generator runs on).
    at::manual_seed(dropout_seed);
    plain->clear_grads();
    double plain_loss = 0;
    for (int j = 0; j < c.k; ++j) {
      plain_sync.set_sync(j == c.k - 1);
      train::StepLosses l =
          train::joint_loss(loss_model(*plain), micro[j], step, objective(c.mode, 0), *comm_);
      (l.total / c.k).backward();
      plain_loss += l.total.item<double>() / c.k;
    }
    plain_sync.finish();
    plain->sgd_step(0.5);

    const double ref_loss = ref.total.item<double>();
    const double loss = mean_over_ranks(got.losses.total.item<double>(), *comm_);
    const double itc = mean_over_ranks(got.losses.itc, *comm_);
    const double plain_mean = mean_over_ranks(plain_loss, *comm_);
    EXPECT_LE(std::abs(loss - ref_loss) / std::abs(ref_loss), kTol)
        << c.name() << " step " << step << ": " << loss << " vs one process " << ref_loss;
    EXPECT_LE(std::abs(itc - ref.itc) / ref.itc, kTol) << c.name() << " step " << step;
    plain_gap = std::max(plain_gap, std::abs(plain_mean - ref_loss) / std::abs(ref_loss));

    // The same ITM pairs: micro-batch j's part p is the reference's rows p·N + offset_j + [0, b).
    ASSERT_EQ(got.itm_plans.size(), static_cast<size_t>(c.k));
    const int parts = c.mode == ItmMode::kHard ? 3 : 1;
    for (int j = 0; j < c.k; ++j) {
      const int64_t offset = j * (kRows / c.k) + comm_->rank() * b;
      for (int p = 0; p < parts; ++p) {
        for (auto [mine, theirs] : {std::pair{&got.itm_plans[j].text_rows, &ref.itm_plan.text_rows},
                                    {&got.itm_plans[j].image_rows, &ref.itm_plan.image_rows}}) {
          EXPECT_TRUE(
              at::equal(mine->narrow(0, p * b, b), theirs->narrow(0, p * kRows + offset, b)))
              << c.name() << " step " << step << " micro-batch " << j << " part " << p;
        }
      }
    }
  }
  const double diff = worst_parameter_diff(*accumulated, *reference);
  EXPECT_LE(diff, kTol) << c.name() << ": parameters differ from one process by " << diff;
  const double plain_diff = worst_parameter_diff(*plain, *reference);
  if (c.k == 1) {
    // One micro-batch: the plain step is joint_loss on W ranks, which equals one process.
    EXPECT_LE(plain_gap, kTol) << c.name();
    EXPECT_LE(plain_diff, kTol) << c.name();
  } else {
    // The micro-batches' own negatives and normalisers: another objective, by a clear margin.
    EXPECT_GT(plain_gap, 1e-2) << c.name() << ": plain accumulation's loss is too close";
    EXPECT_GT(plain_diff, 1e-3) << c.name() << ": plain accumulation's parameters are too close";
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (int k : {1, 2, 4}) {
    for (double dropout : {0.0, 0.3}) {
      for (ItmMode mode : {ItmMode::kHard, ItmMode::kRandom}) out.push_back({k, dropout, mode});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(KDropoutMode, ContrastiveAccumulation, ::testing::ValuesIn(cases()),
                         [](const auto& info) {
                           const Case& c = info.param;
                           return "k" + std::to_string(c.k) + (c.dropout > 0 ? "_dropout" : "") +
                                  (c.mode == ItmMode::kHard ? "_hard" : "_random");
                         });

}  // namespace
}  // namespace mmaux
