// GPU checks of a training step (label gpu; skipped without a GPU, NCCL or a CUDA libtorch):
//  - a float64 CE + ITC + ITM step of each model on CUDA (NCCL communicator, world 1) equals the
//    same step on the CPU to 1e-10: losses, ITM pairs, every gradient, and the AdamW update made
//    on each device from the same gradients;
//  - bf16 autocast: matmuls run in bf16 inside AutocastScope only, and a bf16 step of the tiny
//    model stays close to the float32 one;
//  - the NCCL communicator at world 1 in a process started without mpirun, and
//    all_gather_with_grad through it (float64, forward and backward).
#include <gtest/gtest.h>

#include <ATen/Context.h>

#include <cstdio>

#include "gpu/step_compare.h"
#include "mmaux/config/dist_options.h"
#include "mmaux/dist/all_gather.h"
#include "mmaux/train/autocast.h"

namespace mmaux::testing {
namespace {

class GpuStep : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!dist::nccl_compiled() || !at::hasCUDA() || dist::cuda_device_count() < 1) {
      GTEST_SKIP() << "needs NCCL, a CUDA libtorch and a GPU (NCCL compiled: "
                   << dist::nccl_compiled() << ", CUDA libtorch: " << at::hasCUDA()
                   << ", GPUs: " << dist::cuda_device_count() << ")";
    }
    DistOptions o;
    o.backend = CommBackend::kNccl;
    o.timeout_s = 120;
    gpu_ = dist::make_communicator(o, true, dist::Topology{});  // world 1, no MPI
    cpu_ = dist::make_local_communicator();
  }
  std::shared_ptr<dist::Communicator> gpu_, cpu_;
};

TEST_F(GpuStep, Float64StepOnCudaEqualsTheCpu) {
  for (const char* model : {"ber-vit-concat", "ber-vit-att", "vilt"}) {
    for (auto itm : {loss::ItmMode::kHard, loss::ItmMode::kRandom}) {
      StepCase c;
      c.model = model;
      c.itm = itm;
      c.padded_images = c.model == "vilt";
      StepResult cpu = run_step(c, at::kCPU, *cpu_);
      StepResult gpu = run_step(c, gpu_->device(), *gpu_);
      // AdamW on each device from the same (CPU) gradients: the optimizer's own CUDA path.
      add_updates(cpu, cpu, at::kCPU);
      add_updates(gpu, cpu, gpu_->device());
      auto diff = differences(gpu, cpu, 1e-10);
      EXPECT_TRUE(diff.empty()) << model << (itm == loss::ItmMode::kHard ? " hard" : " random")
                                << ": " << describe(diff);
      std::printf("%s, ITM %s: CUDA vs CPU max relative difference %.3g\n", model,
                  itm == loss::ItmMode::kHard ? "hard" : "random",
                  max_relative_difference(gpu, cpu));
    }
  }
}

TEST_F(GpuStep, AutocastRunsMatmulsInBf16OnlyInsideTheScope) {
  auto opts = at::TensorOptions().device(gpu_->device());
  at::Tensor x = at::randn({8, 8}, opts);
  EXPECT_EQ(at::matmul(x, x).scalar_type(), at::kFloat);
  {
    train::AutocastScope scope(true);
    EXPECT_EQ(at::matmul(x, x).scalar_type(), at::kBFloat16);
    EXPECT_EQ(at::softmax(x, 1).scalar_type(), at::kFloat);  // autocast's float32 list
  }
  EXPECT_EQ(at::matmul(x, x).scalar_type(), at::kFloat);
}

TEST_F(GpuStep, Bf16StepStaysCloseToFloat32) {
  StepCase c;
  c.dtype = at::kFloat;
  StepResult fp32 = run_step(c, gpu_->device(), *gpu_);
  c.bf16_autocast = true;
  StepResult bf16 = run_step(c, gpu_->device(), *gpu_);
  for (size_t i = 0; i < fp32.losses.size(); ++i) {
    const double a = fp32.losses[i].second, b = bf16.losses[i].second;
    EXPECT_TRUE(std::isfinite(b));
    EXPECT_LT(std::abs(a - b) / std::abs(a), 0.05)
        << fp32.losses[i].first << ": " << b << " vs " << a;
    std::printf("loss %s: float32 %.6f, bf16 autocast %.6f\n", fp32.losses[i].first.c_str(), a, b);
  }
  for (const auto& [name, g] : bf16.grads) {
    if (g.defined()) {
      EXPECT_TRUE(at::isfinite(g).all().item<bool>()) << name;
    }
  }
}

TEST_F(GpuStep, NcclAtWorldOneAndGatherWithGrad) {
  ASSERT_EQ(gpu_->backend(), "nccl");
  ASSERT_EQ(gpu_->world_size(), 1);
  auto opts = at::TensorOptions().device(gpu_->device()).dtype(at::kDouble);
  at::Tensor t = at::arange(6, opts);
  gpu_->all_reduce(t, dist::ReduceOp::kSum);
  EXPECT_TRUE(at::equal(t.cpu(), at::arange(6, at::kDouble)));
  at::Tensor b = at::full({3}, 2.5, opts);
  gpu_->broadcast(b, 0);
  EXPECT_EQ(b.cpu()[2].item<double>(), 2.5);
  at::Tensor a = at::ones({1024}, opts);
  gpu_->all_reduce_async(a, dist::ReduceOp::kAvg)->wait();
  EXPECT_EQ(a.sum().item<double>(), 1024.0);
  gpu_->barrier();
  // all_gather_with_grad: the identity at world 1, and its backward passes the gradient through.
  at::Tensor x = at::randn({4, 3}, opts).set_requires_grad(true);
  at::Tensor y = dist::all_gather_with_grad(x, *gpu_);
  EXPECT_TRUE(at::equal(y.detach().cpu(), x.detach().cpu()));
  at::Tensor w = at::randn({4, 3}, opts);
  (y * w).sum().backward();
  EXPECT_TRUE(at::allclose(x.grad().cpu(), w.cpu(), 0, 0));
}

}  // namespace
}  // namespace mmaux::testing
