// The thread harness against real MPI: every MPI rank runs the same computation again on W
// threads of its own process (W = the MPI world size) and compares its rank's results, value by
// value, with what the MPI communicator gave.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "dist/loss_cases.h"
#include "mmaux/dist/grad_sync.h"
#include "mmaux/dist/thread_ranks.h"
#include "support/mpi_support.h"

namespace mmaux::testing {
namespace {

using Computation = std::function<std::vector<LossOutput>(dist::Communicator&)>;

/// This rank's outputs of `f` on MPI and on the thread rank with the same number.
std::pair<std::vector<LossOutput>, std::vector<LossOutput>> both(const Computation& f) {
  auto mpi = mpi_test_communicator(60);
  std::vector<LossOutput> on_mpi = f(*mpi);
  std::vector<LossOutput> on_threads;
  dist::run_thread_ranks(mpi->world_size(), [&](const std::shared_ptr<dist::Communicator>& c) {
    std::vector<LossOutput> out = f(*c);
    if (c->rank() == mpi->rank()) on_threads = std::move(out);
  });
  return {on_mpi, on_threads};
}

TEST(ThreadsAgreeWithMpi, Collectives) {
  auto [mpi, threads] = both([](dist::Communicator& comm) {
    const int r = comm.rank();
    std::vector<LossOutput> out;
    at::Tensor x = at::sin(at::arange(6, at::kDouble) + 10.0 * r);
    for (auto op : {dist::ReduceOp::kSum, dist::ReduceOp::kAvg, dist::ReduceOp::kMax}) {
      at::Tensor y = x.clone();
      comm.all_reduce(y, op);
      out.push_back({dist::reduce_op_name(op), y});
    }
    out.push_back({"gather", comm.all_gather_varsize(x.narrow(0, 0, r + 1))});
    std::vector<int64_t> counts(comm.world_size(), 2);
    out.push_back({"reduce_scatter",
                   comm.reduce_scatter(at::cos(at::arange(2 * comm.world_size(), at::kDouble) * r),
                                       counts, dist::ReduceOp::kSum)});
    at::Tensor b = x.clone();
    comm.broadcast(b, comm.world_size() - 1);
    out.push_back({"broadcast", b});
    return out;
  });
  EXPECT_EQ(compare_outputs(threads, mpi, 1e-14), "");
}

TEST(ThreadsAgreeWithMpi, GradSync) {
  auto [mpi, threads] = both([](dist::Communicator& comm) {
    const int r = comm.rank();
    // GradSync needs to own its communicator; both harnesses' communicators outlive this call.
    std::shared_ptr<dist::Communicator> shared(&comm, [](dist::Communicator*) {});
    dist::NamedTensors p;
    p.emplace_back("a", at::full({3}, 1.0 + r, at::kDouble).set_requires_grad(true));
    p.emplace_back("b", at::full({2, 4}, 2.0 + r, at::kDouble).set_requires_grad(true));
    DistOptions o;
    o.bucket_mb = 40.0 / (1024 * 1024);
    dist::GradSync sync(p, {}, shared, o);
    (at::sin(p[0].second * (r + 1.0)).sum() + p[1].second.pow(3).sum() * (r + 2.0)).backward();
    sync.finish();
    return std::vector<LossOutput>{{"a_grad", p[0].second.grad()}, {"b_grad", p[1].second.grad()}};
  });
  EXPECT_EQ(compare_outputs(threads, mpi, 1e-14), "");
}

TEST(ThreadsAgreeWithMpi, CollectiveLosses) {
  for (bool unequal : {false, true}) {
    auto [mpi, threads] =
        both([unequal](dist::Communicator& comm) { return compute_losses(comm, unequal); });
    EXPECT_EQ(compare_outputs(threads, mpi, 1e-12), "") << (unequal ? "unequal" : "equal");
  }
}

}  // namespace
}  // namespace mmaux::testing
