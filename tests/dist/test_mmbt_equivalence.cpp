// MMBT under W ranks equals one process on the global batch, in float64, with the trainer's own
// objective (0.8 CE + 0.1 gathered ITC + 0.1 hard ITM; model.mmbt-mode fixed): the same losses,
// the same hard negatives (re-encoded from gathered ids and pixels) and the same parameters after
// four SGD steps. BatchNorm is frozen here (running statistics): with batch statistics each rank
// normalises its own rows, as DDP does, which is by design not the global batch (README, MMBT).
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>

#include "dist/batch_slice.h"
#include "dist/tiny_text.h"
#include "mmaux/config/dist_options.h"
#include "mmaux/dist/grad_sync.h"
#include "mmaux/loss/cross_entropy.h"
#include "mmaux/model/mmbt.h"
#include "mmaux/train/joint_loss.h"
#include "support/mpi_support.h"

namespace mmaux {
namespace {

constexpr int64_t kGlobalBatch = 8;
constexpr int64_t kTextLength = 7;
constexpr int64_t kVocab = 50;
constexpr int64_t kSide = 24;
constexpr double kTol = 1e-10;

struct Mmbt {
  std::shared_ptr<model::MmbtModel> model;
  at::Tensor logit_scale;
  dist::NamedTensors named() const {
    dist::NamedTensors out;
    for (const auto& p : model->named_parameters()) out.emplace_back(p.key(), p.value());
    out.emplace_back("logit_scale", logit_scale);
    return out;
  }
  dist::NamedTensors buffers() const {
    dist::NamedTensors out;
    for (const auto& b : model->named_buffers()) out.emplace_back(b.key(), b.value());
    return out;
  }
};

Mmbt make_mmbt(uint64_t seed) {
  model::ModelArchitecture c = model::preset_config(ModelKind::kMmbt, ModelPreset::kTiny);
  testing::make_tiny_text(c.text, kVocab, 0);
  c.resnet.layers = {1, 1, 1, 1};
  c.resnet.stem_width = 4;
  c.resnet.planes = {2, 2, 4, 4};
  c.num_classes = 3;
  c.classifier_dropout = 0;
  ModelOptions o;
  o.name = ModelKind::kMmbt;
  o.mmbt_mode = MmbtMode::kFixed;
  at::manual_seed(seed);
  Mmbt m;
  m.model = std::make_shared<model::MmbtModel>(c, o);
  m.model->to(at::kDouble);
  m.model->train();
  m.model->resnet().freeze_batch_norm(true);
  m.logit_scale = at::full({}, 2.659260036932778, at::kDouble).set_requires_grad(true);
  return m;
}

/// Framed rows [CLS]=1 w.. [SEP]=2 pad; row 0 has two padding tokens, row 5 repeats row 1's text
/// and row 6 row 2's image (duplicate masking takes part).
data::Batch global_batch(int64_t step) {
  at::manual_seed(1000 + step);
  const int64_t n = kGlobalBatch;
  data::Batch g;
  g.input_ids = at::randint(3, kVocab, {n, kTextLength}, at::kLong);
  g.input_ids.select(1, 0).fill_(1);
  g.input_ids.select(1, kTextLength - 1).fill_(2);
  g.attention_mask = at::ones({n, kTextLength}, at::kLong);
  g.input_ids[0][kTextLength - 3] = 2;
  g.input_ids[0].narrow(0, kTextLength - 2, 2).fill_(0);
  g.attention_mask[0].narrow(0, kTextLength - 2, 2).fill_(0);
  g.pixels = at::randn({n, 3, kSide, kSide}, at::kDouble);
  g.pixel_mask = at::ones({n, kSide, kSide}, at::kLong);
  g.labels = at::randint(0, 3, {n}, at::kLong);
  g.relation = at::full({n}, -1, at::kLong);
  g.global_row = at::arange(n, at::kLong);
  g.sample_index = at::arange(n, at::kLong);
  for (int64_t i = 0; i < n; ++i) g.post_ids.push_back(std::to_string(i));
  g.global_batch_size = n;
  g.input_ids[5].copy_(g.input_ids[1]);
  g.attention_mask[5].copy_(g.attention_mask[1]);
  g.pixels[6].copy_(g.pixels[2]);
  return g;
}

using testing::slice;

train::JointLossOptions objective() {
  train::JointLossOptions o;
  o.weights = LossWeights{0.8, 0.1, 0.1};
  o.itm_mode = ItmMode::kHard;
  o.ce_norm = CeNorm::kBatch;
  o.hard_eps = 1e-4;
  o.sampling_seed = 11;
  o.pad_id = 0;
  return o;
}

double train_step(Mmbt& m, const data::Batch& local, dist::Communicator& comm, dist::GradSync* sync,
                  int64_t step) {
  for (auto& [name, p] : m.named()) p.mutable_grad() = at::Tensor();
  train::LossModel lm{*m.model, m.logit_scale, loss::balanced_class_weights({5, 2, 3}),
                      c10::Device(c10::kCPU)};
  train::StepLosses l = train::joint_loss(lm, local, step, objective(), comm);
  l.total.backward();
  if (sync != nullptr) sync->finish();
  {
    at::NoGradGuard no_grad;
    for (auto& [name, p] : m.named()) {
      if (p.grad().defined()) p.sub_(p.grad() * 0.5);
    }
  }
  at::Tensor value = l.total.detach().reshape({1}).clone();
  comm.all_reduce(value, dist::ReduceOp::kAvg);
  return value.item<double>();
}

TEST(MmbtEquivalence, RanksTrainLikeOneProcessOnTheGlobalBatch) {
  const DistOptions o = testing::mpi_test_options(60);
  auto comm = testing::mpi_test_communicator(o);
  auto local = dist::make_local_communicator();
  const int64_t w = comm->world_size();
  ASSERT_EQ(kGlobalBatch % w, 0);
  const int64_t b = kGlobalBatch / w, offset = b * comm->rank();
  Mmbt reference = make_mmbt(7), ranked = make_mmbt(7);
  dist::GradSync sync(ranked.named(), ranked.buffers(), comm, o);
  for (int64_t step = 0; step < 4; ++step) {
    data::Batch g = global_batch(step);
    const double ref = train_step(reference, g, *local, nullptr, step);
    const double got = train_step(ranked, slice(g, offset, b), *comm, &sync, step);
    EXPECT_LE(std::abs(got - ref) / std::abs(ref), kTol)
        << "step " << step << ": " << got << " vs single process " << ref;
  }
  auto ref_params = reference.model->named_parameters();
  auto initial = make_mmbt(7).model->named_parameters();
  int changed = 0;
  for (const auto& p : ranked.model->named_parameters()) {
    const at::Tensor& r = ref_params[p.key()];
    // Relative, or absolute for values below 1: the attention key bias gets a zero gradient
    // (a constant added to every score of a row), so it holds rounding noise around 0.
    const double scale = std::max(r.abs().max().item<double>(), 1.0);
    EXPECT_LE((p.value() - r).abs().max().item<double>() / scale, kTol) << p.key();
    changed += at::equal(p.value(), initial[p.key()]) ? 0 : 1;
  }
  // Every part trained: the ResNet, both projections, BERT, the heads.
  EXPECT_GT(changed, 30);
  EXPECT_LE(std::abs(ranked.logit_scale.item<double>() - reference.logit_scale.item<double>()),
            kTol);
}

}  // namespace
}  // namespace mmaux
