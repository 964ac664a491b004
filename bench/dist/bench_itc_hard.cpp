// Time of ITC (forward + backward through all_gather_with_grad) plus hard-negative planning for
// a local batch of b = 32 rows, d = 512, N = W · b columns (N = 128 at 4 ranks):
//   mpirun -np 4 build/bench/dist/bench_itc_hard [b] [d]
// Times are the slowest rank's median over 50 steps, float32, one intra-op thread per rank.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <mpi.h>
#include <torch/autograd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "mmaux/dist/communicator.h"
#include "mmaux/dist/runtime.h"
#include "mmaux/loss/itc.h"
#include "mmaux/loss/itm.h"

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double worst_median(std::vector<double> t) {
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  double m = t[t.size() / 2], worst = 0;
  MPI_Allreduce(&m, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t b = argc > 1 ? std::atoll(argv[1]) : 32;
  const int64_t d = argc > 2 ? std::atoll(argv[2]) : 512;
  auto launch = mmaux::dist::detect_launch([](const char* n) { return std::getenv(n); });
  launch.mpi = true;
  const mmaux::dist::Topology info = mmaux::dist::init_runtime(launch);
  at::set_num_threads(1);
  mmaux::DistOptions options;
  auto comm = mmaux::dist::make_communicator(options, false, info);
  at::manual_seed(static_cast<uint64_t>(info.rank));
  std::vector<double> itc_t, plan_t, total_t;
  int64_t degenerate = 0;
  for (int step = 0; step < 60; ++step) {
    at::Tensor text = at::randn({b, d}).set_requires_grad(true);
    at::Tensor image = at::randn({b, d}).set_requires_grad(true);
    at::Tensor scale = at::full({}, 2.659260036932778).set_requires_grad(true);
    mmaux::loss::RowKeys keys{at::randint(0, 1 << 30, {b}, at::kLong),
                              at::randint(0, 1 << 30, {b}, at::kLong), at::Tensor()};
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = now();
    auto itc = mmaux::loss::itc_loss(text, image, scale, *comm);
    itc.loss.backward();
    double t1 = now();
    auto plan = mmaux::loss::plan_itm_hard(itc, keys, {1, step}, 1e-4, *comm);
    degenerate += plan.degenerate.item<int64_t>();
    double t2 = now();
    if (step >= 10) {
      itc_t.push_back(t1 - t0);
      plan_t.push_back(t2 - t1);
      total_t.push_back(t2 - t0);
    }
  }
  double itc = worst_median(itc_t), plan = worst_median(plan_t), total = worst_median(total_t);
  if (info.rank == 0) {
    std::printf("ITC + hard negatives: W = %d ranks, b = %lld, N = %lld, d = %lld, float32\n",
                comm->world_size(), static_cast<long long>(b),
                static_cast<long long>(b * comm->world_size()), static_cast<long long>(d));
    std::printf("  ITC forward + backward : %8.3f ms\n", itc * 1e3);
    std::printf("  hard-negative plan     : %8.3f ms\n", plan * 1e3);
    std::printf("  total                  : %8.3f ms   (degenerate rows: %lld)\n", total * 1e3,
                static_cast<long long>(degenerate));
  }
  comm.reset();
  mmaux::dist::finalize_runtime();
  return 0;
}
