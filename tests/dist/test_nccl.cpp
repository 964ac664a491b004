// The NCCL backend on real GPUs: skipped without a GPU per rank or without a CUDA libtorch.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <torch/autograd.h>

#include "mmaux/config/dist_options.h"
#include "mmaux/core/error.h"
#include "mmaux/dist/all_gather.h"
#include "mmaux/dist/communicator.h"
#include "mmaux/dist/runtime.h"
#include "support/mpi_support.h"

namespace mmaux::dist {
namespace {

class Nccl : public ::testing::Test {
 protected:
  void SetUp() override {
    const Topology& topology = testing::mpi_topology();
    if (!nccl_compiled() || !at::hasCUDA() || cuda_device_count() < topology.local_size) {
      GTEST_SKIP() << "needs NCCL, a CUDA libtorch and one GPU per rank (" << cuda_device_count()
                   << " visible)";
    }
    DistOptions o;
    o.backend = CommBackend::kAuto;
    o.timeout_s = 60;
    comm_ = make_communicator(o, true, topology);
  }
  std::shared_ptr<Communicator> comm_;
};

TEST_F(Nccl, CollectivesMatchClosedForms) {
  ASSERT_EQ(comm_->backend(), "nccl");
  const int r = comm_->rank(), w = comm_->world_size();
  auto opts = at::TensorOptions().device(comm_->device());
  for (auto dt : {at::kFloat, at::kDouble, at::kBFloat16, at::kLong}) {
    at::Tensor t = at::full({7}, r + 1.0, opts.dtype(dt));
    comm_->all_reduce(t, ReduceOp::kSum);
    EXPECT_EQ(t.cpu().to(at::kDouble)[0].item<double>(), w * (w + 1) / 2.0);
    at::Tensor m = at::full({3}, r + 1.0, opts.dtype(dt));
    comm_->all_reduce(m, ReduceOp::kMax);
    EXPECT_EQ(m.cpu().to(at::kDouble)[0].item<double>(), w);
    at::Tensor g = comm_->all_gather(at::full({2, 2}, double(r), opts.dtype(dt)));
    EXPECT_EQ(g.size(0), 2 * w);
    at::Tensor v = comm_->all_gather_varsize(at::full({r + 1, 2}, double(r), opts.dtype(dt)));
    EXPECT_EQ(v.size(0), w * (w + 1) / 2);
    at::Tensor b = at::full({4}, double(r), opts.dtype(dt));
    comm_->broadcast(b, w - 1);
    EXPECT_EQ(b.cpu().to(at::kDouble)[3].item<double>(), w - 1.0);
  }
  at::Tensor a = at::full({1024}, 1.0 + r, opts.dtype(at::kFloat));
  comm_->all_reduce_async(a, ReduceOp::kAvg)->wait();
  EXPECT_FLOAT_EQ(a.cpu()[5].item<float>(), (w + 1) / 2.0f);
  comm_->barrier();
}

TEST_F(Nccl, GatherWithGradSumsTheUpstreamSlices) {
  const int r = comm_->rank(), w = comm_->world_size();
  auto opts = at::TensorOptions().device(comm_->device()).dtype(at::kFloat);
  at::Tensor x = at::full({2, 3}, double(r), opts).set_requires_grad(true);
  at::Tensor y = all_gather_with_grad(x, *comm_);
  (y * (r + 1.0)).sum().backward();
  EXPECT_FLOAT_EQ(x.grad().cpu()[0][0].item<float>(), w * (w + 1) / 2.0f);
}

}  // namespace
}  // namespace mmaux::dist
