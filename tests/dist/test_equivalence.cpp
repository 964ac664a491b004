// The centre of the distributed design (METHOD.md §1 and §6): W ranks training on their slices
// of a global batch with the trainer's own objective, train::joint_loss (CE + ITC + ITM hard),
// reach the same losses and parameters as one process on the whole global batch; and the wrong
// gather/backward combinations of METHOD.md's table really give different gradients. Every rank
// computes the single-process reference itself, with a local communicator, on the full global
// batch.
#include <gtest/gtest.h>

#include <cmath>

#include "dist/global_batch.h"
#include "dist/two_tower.h"
#include "mmaux/config/dist_options.h"
#include "mmaux/dist/all_gather.h"
#include "mmaux/dist/grad_sync.h"
#include "mmaux/loss/cross_entropy.h"
#include "mmaux/loss/itc.h"
#include "mmaux/loss/itm.h"
#include "mmaux/train/joint_loss.h"
#include "support/mpi_support.h"

namespace mmaux {
namespace {

using testing::global_batch;
using testing::make_two_tower;
using testing::slice;
using testing::TwoTower;

constexpr int64_t kGlobalBatch = 8;
constexpr uint64_t kSeed = 7;
constexpr double kTol = 1e-10;

/// The objective of these tests: 0.8 CE + 0.1 ITC + 0.1 ITM with hard negatives.
train::JointLossOptions objective() {
  train::JointLossOptions o;
  o.weights = LossWeights{0.8, 0.1, 0.1};
  o.itm_mode = ItmMode::kHard;
  o.ce_norm = CeNorm::kBatch;
  o.hard_eps = 1e-4;
  o.sampling_seed = kSeed;
  o.pad_id = 0;
  return o;
}

struct StepOut {
  double loss = 0;  // the global loss (mean over ranks of the rank terms)
  loss::ItmPlan plan;
};

/// One training step on this rank's batch with the trainer's joint_loss, then sync and SGD.
StepOut train_step(TwoTower& m, const data::Batch& local, dist::Communicator& comm,
                   dist::GradSync* sync, int64_t step) {
  m.clear_grads();
  train::LossModel lm{m, m.logit_scale(), loss::balanced_class_weights({5, 2, 3}),
                      c10::Device(c10::kCPU)};
  train::StepLosses l = train::joint_loss(lm, local, step, objective(), comm);
  l.total.backward();
  if (sync != nullptr) sync->finish();
  m.sgd_step(0.5);
  at::Tensor value = l.total.detach().reshape({1}).clone();
  comm.all_reduce(value, dist::ReduceOp::kAvg);
  return {value.item<double>(), l.itm_plan};
}

double rel_diff(const at::Tensor& a, const at::Tensor& b) {
  double scale = std::max(b.abs().max().item<double>(), 1e-30);
  return (a - b).abs().max().item<double>() / scale;
}

class Equivalence : public ::testing::Test {
 protected:
  void SetUp() override {
    // Buckets of a few hundred bytes: several buckets even for this small model.
    const DistOptions o = testing::mpi_test_options(60, 0.0005);
    comm_ = testing::mpi_test_communicator(o);
    local_ = dist::make_local_communicator();
    w_ = comm_->world_size();
    ASSERT_EQ(kGlobalBatch % w_, 0);
    b_ = kGlobalBatch / w_;
    offset_ = b_ * comm_->rank();
    options_ = o;
  }
  std::shared_ptr<dist::Communicator> comm_, local_;
  DistOptions options_;
  int w_ = 1;
  int64_t b_ = 0, offset_ = 0;
};

TEST_F(Equivalence, RanksTrainLikeOneProcessOnTheGlobalBatch) {
  auto reference = make_two_tower(kSeed);
  // Ranks other than 0 start from a different initialisation: GradSync must broadcast rank 0's.
  auto model = make_two_tower(comm_->rank() == 0 ? kSeed : kSeed + 100 + comm_->rank());
  dist::GradSync sync(*model, comm_, options_);
  if (w_ > 1) {
    EXPECT_GT(sync.num_buckets(), 1);
  }
  for (int64_t step = 0; step < 4; ++step) {
    data::Batch g = global_batch(step);
    StepOut ref = train_step(*reference, g, *local_, nullptr, step);
    StepOut got = train_step(*model, slice(g, offset_, b_), *comm_, &sync, step);
    EXPECT_LE(std::abs(got.loss - ref.loss) / std::abs(ref.loss), kTol)
        << "step " << step << ": " << got.loss << " vs single process " << ref.loss;
    // Hard negatives are a function of (seed, step, global row): the same pairs at any W.
    const int64_t n = kGlobalBatch;
    for (int part = 0; part < 3; ++part) {
      at::Tensor mine_t = got.plan.text_rows.narrow(0, part * b_, b_);
      at::Tensor mine_i = got.plan.image_rows.narrow(0, part * b_, b_);
      EXPECT_TRUE(at::equal(mine_t, ref.plan.text_rows.narrow(0, part * n + offset_, b_)))
          << "step " << step << " part " << part;
      EXPECT_TRUE(at::equal(mine_i, ref.plan.image_rows.narrow(0, part * n + offset_, b_)))
          << "step " << step << " part " << part;
    }
    EXPECT_EQ(got.plan.labels.sum().item<int64_t>(), b_);
  }
  auto ref_params = reference->named_parameters();
  for (const auto& p : model->named_parameters()) {
    double d = rel_diff(p.value(), ref_params[p.key()]);
    EXPECT_LE(d, kTol) << "parameter " << p.key() << " differs from the single process by " << d;
  }
  options_.divergence_check_every = 1;
  dist::GradSync checker(*model, comm_, options_);
  EXPECT_NO_THROW(checker.check_divergence(4));
}

TEST_F(Equivalence, UnequalShardsStillMatchOneProcess) {
  // Rank r holds r + 2 rows (a last, short batch spread unevenly): the global normalisers and the
  // varying-size gathers keep the equivalence.
  auto rows = [](int q) -> int64_t { return q + 2; };
  int64_t n = 0, offset = 0;
  for (int q = 0; q < w_; ++q) {
    if (q < comm_->rank()) offset += rows(q);
    n += rows(q);
  }
  auto reference = make_two_tower(kSeed);
  auto model = make_two_tower(kSeed);
  dist::GradSync sync(*model, comm_, options_);
  for (int64_t step = 0; step < 3; ++step) {
    data::Batch g = global_batch(step, n);
    StepOut ref = train_step(*reference, g, *local_, nullptr, step);
    StepOut got = train_step(*model, slice(g, offset, rows(comm_->rank())), *comm_, &sync, step);
    EXPECT_LE(std::abs(got.loss - ref.loss) / std::abs(ref.loss), kTol) << "step " << step;
  }
  auto ref_params = reference->named_parameters();
  for (const auto& p : model->named_parameters()) {
    EXPECT_LE(rel_diff(p.value(), ref_params[p.key()]), kTol) << p.key();
  }
}

enum class Variant { kLocalSum, kGlobalSum, kGlobalNoGradOwnLive, kLocalNoGrad, kLocalAvg };

at::Tensor normalise(const at::Tensor& x) { return x / x.norm(2, {1}, true).clamp_min(1e-12); }

/// ½ [CE(S, diag) + CE(Sᵀ, diag)] averaged over all N rows of the global matrix.
at::Tensor global_itc(const at::Tensor& t_all, const at::Tensor& v_all, const at::Tensor& s) {
  at::Tensor sim = s.exp() * v_all.matmul(t_all.t());
  at::Tensor labels = at::arange(sim.size(0), at::kLong);
  auto ce = [&](const at::Tensor& l) {
    return -at::log_softmax(l, 1).gather(1, labels.unsqueeze(1)).mean();
  };
  return 0.5 * (ce(sim) + ce(sim.t()));
}

/// The ITC loss of one rank under a combination of METHOD.md's table.
at::Tensor itc_variant(Variant v, const at::Tensor& text, const at::Tensor& image,
                       const at::Tensor& scale, dist::Communicator& comm) {
  switch (v) {
    case Variant::kLocalSum:
      return loss::itc_loss(text, image, scale, comm).loss;
    case Variant::kGlobalSum:
      return global_itc(dist::all_gather_with_grad(normalise(text), comm),
                        dist::all_gather_with_grad(normalise(image), comm), scale);
    case Variant::kGlobalNoGradOwnLive: {
      auto live = [&](const at::Tensor& x) {
        at::Tensor all = dist::all_gather_no_grad(x, comm);
        const int64_t b = x.size(0), off = b * comm.rank();
        return at::cat({all.narrow(0, 0, off), x, all.narrow(0, off + b, all.size(0) - off - b)});
      };
      return global_itc(live(normalise(text)), live(normalise(image)), scale);
    }
    case Variant::kLocalNoGrad:
    case Variant::kLocalAvg: {
      at::Tensor t = normalise(text), im = normalise(image);
      at::Tensor t_all, v_all;
      if (v == Variant::kLocalNoGrad) {
        t_all = dist::all_gather_no_grad(t, comm);
        v_all = dist::all_gather_no_grad(im, comm);
      } else {
        t_all = dist::all_gather_with_grad(t, comm, {}, dist::ReduceOp::kAvg);
        v_all = dist::all_gather_with_grad(im, comm, {}, dist::ReduceOp::kAvg);
      }
      const int64_t b = t.size(0), n = t_all.size(0);
      at::Tensor labels = at::arange(b * comm.rank(), b * comm.rank() + b, at::kLong);
      auto ce_sum = [&](const at::Tensor& l) {
        return -at::log_softmax(l, 1).gather(1, labels.unsqueeze(1)).sum();
      };
      at::Tensor e = scale.exp();
      return (ce_sum(e * im.matmul(t_all.t())) + ce_sum(e * t.matmul(v_all.t()))) *
             (static_cast<double>(comm.world_size()) / (2.0 * n));
    }
  }
  return {};
}

/// Gradients of the ITC loss after gradient averaging, by parameter name (defined ones only).
std::map<std::string, at::Tensor> itc_grads(TwoTower& m, const data::Batch& batch, Variant v,
                                            dist::Communicator& comm, dist::GradSync* sync) {
  m.clear_grads();
  model::Encoded enc = m.encode(train::to_model_input(batch, c10::Device(c10::kCPU)));
  itc_variant(v, enc.itc_text, enc.itc_image, m.logit_scale(), comm).backward();
  if (sync != nullptr) sync->finish();
  std::map<std::string, at::Tensor> out;
  for (const auto& p : m.named_parameters()) {
    if (p.value().grad().defined()) out[p.key()] = p.value().grad().clone();
  }
  return out;
}

TEST_F(Equivalence, OnlyTheExactCombinationsOfTheTableMatchOneProcess) {
  auto reference = make_two_tower(kSeed);
  auto model = make_two_tower(kSeed);
  dist::GradSync sync(*model, comm_, options_);
  data::Batch g = global_batch(0);
  auto ref = itc_grads(*reference, g, Variant::kLocalSum, *local_, nullptr);
  ASSERT_EQ(ref.size(), 7u);  // the towers, the projections and the logit scale
  ASSERT_EQ(ref.count("cls.weight"), 0u);
  data::Batch mine = slice(g, offset_, b_);
  auto worst = [&](const std::map<std::string, at::Tensor>& got, double factor) {
    EXPECT_EQ(got.size(), ref.size());
    double d = 0;
    for (const auto& [name, grad] : ref) {
      if (name == "logit_scale" || got.count(name) == 0) continue;
      d = std::max(d, rel_diff(got.at(name), grad * factor));
    }
    return d;
  };
  const double w = static_cast<double>(w_);
  // Exact: local b x N with gather-with-grad (sum), and the redundant global N x N.
  EXPECT_LE(worst(itc_grads(*model, mine, Variant::kLocalSum, *comm_, &sync), 1.0), kTol);
  EXPECT_LE(worst(itc_grads(*model, mine, Variant::kGlobalSum, *comm_, &sync), 1.0), kTol);
  // Global N x N without gather gradient, own slice live: exactly the gradient / W.
  auto div_w = itc_grads(*model, mine, Variant::kGlobalNoGradOwnLive, *comm_, &sync);
  EXPECT_LE(worst(div_w, 1.0 / w), kTol);
  // Biased: the column terms are lost, or (at W > 1) averaged instead of summed.
  double no_grad = worst(itc_grads(*model, mine, Variant::kLocalNoGrad, *comm_, &sync), 1.0);
  double avg = worst(itc_grads(*model, mine, Variant::kLocalAvg, *comm_, &sync), 1.0);
  // A no-grad gather loses the column terms at any world size, even on one rank.
  EXPECT_GT(no_grad, 1e-3) << "local rows with a no-grad gather must be biased";
  if (w_ == 1) {
    EXPECT_LE(avg, kTol);  // one rank: averaging over one rank is the sum
  } else {
    EXPECT_GT(worst(div_w, 1.0), 0.1) << "gradient / W must differ from the exact gradient";
    EXPECT_GT(avg, 1e-3) << "an averaging gather backward must be biased";
  }
}

TEST_F(Equivalence, HardPlanIsTheSameAtAnyWorldSizeAndMasksDuplicates) {
  // Random similarities with duplicates: row 5 = row 1 (text), row 6 = row 2 (image).
  at::manual_seed(3);
  at::Tensor sim = at::randn({kGlobalBatch, kGlobalBatch}, at::kDouble) * 5;
  data::Batch g = global_batch(0);
  at::Tensor tk = loss::text_keys(g.input_ids, g.attention_mask);
  at::Tensor ik = loss::image_keys(g.pixels, g.pixel_mask);
  for (int64_t step = 0; step < 20; ++step) {
    loss::ItmPlan full = loss::plan_itm_hard(sim, sim.t().contiguous(), 0, {tk, ik, at::Tensor()},
                                             {kSeed, step}, 1e-4, *local_);
    loss::RowKeys keys{tk.narrow(0, offset_, b_), ik.narrow(0, offset_, b_), at::Tensor()};
    loss::ItmPlan mine =
        loss::plan_itm_hard(sim.narrow(0, offset_, b_), sim.t().contiguous().narrow(0, offset_, b_),
                            offset_, keys, {kSeed, step}, 1e-4, *comm_);
    for (int part = 0; part < 3; ++part) {
      EXPECT_TRUE(at::equal(mine.text_rows.narrow(0, part * b_, b_),
                            full.text_rows.narrow(0, part * kGlobalBatch + offset_, b_)));
      EXPECT_TRUE(at::equal(mine.image_rows.narrow(0, part * b_, b_),
                            full.image_rows.narrow(0, part * kGlobalBatch + offset_, b_)));
    }
    // Never the same post, never a duplicate text or image of the anchor.
    for (int64_t k = kGlobalBatch; k < 3 * kGlobalBatch; ++k) {
      int64_t t = full.text_rows[k].item<int64_t>(), i = full.image_rows[k].item<int64_t>();
      EXPECT_NE(t, i);
      EXPECT_NE(tk[t].item<int64_t>(), tk[i].item<int64_t>()) << "duplicate text chosen";
      EXPECT_NE(ik[t].item<int64_t>(), ik[i].item<int64_t>()) << "duplicate image chosen";
    }
    EXPECT_EQ(full.degenerate.item<int64_t>(), 0);
  }
}

}  // namespace
}  // namespace mmaux
