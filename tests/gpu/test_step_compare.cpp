// The comparison behind the GPU step test, exercised on the CPU: the same step twice is equal,
// rounding-level changes pass the 1e-10 tolerance (including other attention kernels, whose
// mathematically zero key-bias gradients differ in their rounding noise), and real changes (a
// gradient, a loss, an ITM pair, an update, a missing parameter) are named. Also AutocastScope's
// state handling, which needs no GPU.
#include <gtest/gtest.h>

#include <cstdio>

#include "gpu/step_compare.h"
#include "mmaux/model/layers.h"
#include "mmaux/train/autocast.h"

namespace mmaux::testing {
namespace {

constexpr double kTol = 1e-10;

StepCase make_case(const std::string& model, loss::ItmMode itm) {
  StepCase c;
  c.model = model;
  c.itm = itm;
  c.padded_images = model == "vilt";
  return c;
}

TEST(StepCompare, TheSameStepTwiceIsEqual) {
  auto comm = dist::make_local_communicator();
  for (const char* model : {"ber-vit-concat", "ber-vit-att", "vilt"}) {
    for (auto itm : {loss::ItmMode::kHard, loss::ItmMode::kRandom}) {
      StepCase c = make_case(model, itm);
      StepResult a = run_step(c, at::kCPU, *comm);
      StepResult b = run_step(c, at::kCPU, *comm);
      add_updates(a, a, at::kCPU);
      add_updates(b, b, at::kCPU);
      EXPECT_TRUE(differences(a, b, kTol).empty())
          << model << ": " << describe(differences(a, b, kTol));
      EXPECT_EQ(max_relative_difference(a, b), 0.0) << model;
      // A step that did something: finite positive losses, gradients and updates that move.
      for (const auto& [name, v] : a.losses) EXPECT_TRUE(std::isfinite(v) && v > 0) << name;
      int moved = 0;
      for (const auto& [name, d] : a.update) moved += d.abs().max().item<double>() > 0;
      EXPECT_GT(moved, static_cast<int>(a.update.size()) / 2) << model;
    }
  }
}

TEST(StepCompare, RoundingPassesAndRealChangesAreNamed) {
  auto comm = dist::make_local_communicator();
  StepCase c = make_case("ber-vit-concat", loss::ItmMode::kHard);
  StepResult a = run_step(c, at::kCPU, *comm);
  add_updates(a, a, at::kCPU);

  // Other kernels for the same step (generic attention instead of the fused one): what a GPU
  // gives, rounding apart.
  model::set_fused_attention(false);
  StepResult generic = run_step(c, at::kCPU, *comm);
  model::set_fused_attention(true);
  add_updates(generic, a, at::kCPU);  // the optimizer from the same gradients, as on a GPU
  const double d = max_relative_difference(generic, a);
  std::printf("generic vs fused attention, float64: max relative difference %.3g\n", d);
  EXPECT_TRUE(differences(generic, a, kTol).empty()) << describe(differences(generic, a, kTol));

  StepResult m = a;
  for (auto& [name, g] : m.grads) {
    if (g.defined()) g = g * (1 + 1e-13);
  }
  EXPECT_TRUE(differences(m, a, kTol).empty()) << "a 1e-13 change must pass";

  m = a;
  at::Tensor& g = m.grads[3].second;
  g = g.clone();
  g.view(-1)[0] += 1e-8 * g.abs().max().item<double>();
  auto diff = differences(m, a, kTol);
  ASSERT_EQ(diff.size(), 1u) << describe(diff);
  EXPECT_EQ(diff[0].name, "gradient " + a.grads[3].first);

  m = a;
  m.losses[1].second *= 1 + 1e-9;
  diff = differences(m, a, kTol);
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0].name, "loss itc");

  m = a;
  m.plan[0].second = m.plan[0].second.roll(1);
  diff = differences(m, a, kTol);
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0].name, "itm.text_rows (different pairs)");

  m = a;
  m.update.back().second = m.update.back().second * 1.001;
  diff = differences(m, a, kTol);
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0].name, "update logit_scale");

  m = a;
  m.grads.pop_back();
  diff = differences(m, a, kTol);
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0].name, "gradient logit_scale (only in the second result)");
}

TEST(AutocastScope, EnablesNestsAndRestores) {
  using train::AutocastScope;
  ASSERT_FALSE(AutocastScope::cuda_enabled());
  const c10::ScalarType before = AutocastScope::cuda_dtype();
  {
    AutocastScope off(false);
    EXPECT_FALSE(AutocastScope::cuda_enabled());
  }
  {
    AutocastScope outer(true);
    EXPECT_TRUE(AutocastScope::cuda_enabled());
    EXPECT_EQ(AutocastScope::cuda_dtype(), at::kBFloat16);
    {
      AutocastScope inner(true, at::kHalf);
      EXPECT_EQ(AutocastScope::cuda_dtype(), at::kHalf);
    }
    EXPECT_TRUE(AutocastScope::cuda_enabled()) << "closing an inner scope keeps the outer one";
    EXPECT_EQ(AutocastScope::cuda_dtype(), at::kBFloat16);
    // CPU tensors are not autocast (only CUDA's autocast is enabled).
    at::Tensor x = at::randn({4, 4});
    EXPECT_EQ(at::matmul(x, x).scalar_type(), at::kFloat);
  }
  EXPECT_FALSE(AutocastScope::cuda_enabled());
  EXPECT_EQ(AutocastScope::cuda_dtype(), before);
}

}  // namespace
}  // namespace mmaux::testing
