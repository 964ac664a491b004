#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>

#include "mmaux/loss/itc.h"

namespace mmaux::loss {
namespace {

TEST(Itc, OneProcessEqualsTheDirectFormula) {
  auto comm = dist::make_local_communicator();
  at::manual_seed(1);
  at::Tensor t = at::randn({5, 4}, at::kDouble), v = at::randn({5, 4}, at::kDouble);
  at::Tensor s = at::full({}, 2.659260036932778, at::kDouble);
  ItcResult r = itc_loss(t, v, s, *comm);
  // Element by element: S_ij = exp(s) v_i·t_j / (|v_i| |t_j|).
  double total = 0;
  for (int i = 0; i < 5; ++i) {
    double row_lse = 0, col_lse = 0;
    for (int j = 0; j < 5; ++j) {
      auto sim = [&](int a, int b) {
        return std::exp(2.659260036932778) * (v[a] * t[b]).sum().item<double>() /
               (v[a].norm().item<double>() * t[b].norm().item<double>());
      };
      row_lse += std::exp(sim(i, j));
      col_lse += std::exp(sim(j, i));
      if (j == i) total -= 2 * sim(i, i);
    }
    total += std::log(row_lse) + std::log(col_lse);
  }
  EXPECT_NEAR(r.loss.item<double>(), total / 10.0, 1e-12);
  EXPECT_EQ(r.global_rows, 5);
  EXPECT_EQ(r.row_offset, 0);
  EXPECT_EQ(r.sim_i2t.sizes(), (std::vector<int64_t>{5, 5}));
  EXPECT_TRUE(at::allclose(r.sim_i2t, r.sim_t2i.t()));
  EXPECT_FALSE(r.sim_i2t.requires_grad());
}

TEST(Itc, ClampStopsTheScaleAtLn100) {
  auto comm = dist::make_local_communicator();
  at::manual_seed(2);
  at::Tensor t = at::randn({3, 4}, at::kDouble), v = at::randn({3, 4}, at::kDouble);
  at::Tensor s = at::full({}, 5.0, at::kDouble).set_requires_grad(true);
  ItcOptions clamp;
  clamp.clamp_logit_scale = true;
  ItcResult clamped = itc_loss(t, v, s, *comm, clamp);
  clamped.loss.backward();
  EXPECT_EQ(s.grad().item<double>(), 0.0);  // clamped: no gradient to the scale
  at::Tensor s100 = at::full({}, std::log(100.0), at::kDouble);
  EXPECT_NEAR(clamped.loss.item<double>(), itc_loss(t, v, s100, *comm).loss.item<double>(), 1e-12);
  s.mutable_grad() = at::Tensor();
  itc_loss(t, v, s, *comm).loss.backward();  // unclamped (paper)
  EXPECT_NE(s.grad().item<double>(), 0.0);
}

TEST(Itc, GradientsReachBothTowersAndTheScale) {
  auto comm = dist::make_local_communicator();
  at::Tensor t = at::randn({4, 3}, at::kDouble).set_requires_grad(true);
  at::Tensor v = at::randn({4, 3}, at::kDouble).set_requires_grad(true);
  at::Tensor s = at::full({}, 1.0, at::kDouble).set_requires_grad(true);
  itc_loss(t, v, s, *comm).loss.backward();
  EXPECT_GT(t.grad().abs().sum().item<double>(), 0);
  EXPECT_GT(v.grad().abs().sum().item<double>(), 0);
  EXPECT_TRUE(s.grad().defined());
}

}  // namespace
}  // namespace mmaux::loss
