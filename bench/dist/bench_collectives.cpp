// all_reduce and all_gather bandwidth of the MPI communicator, 1 KB to 64 MB of float32, next to
// the blocking MPI call it wraps (the cost of polling for the timeout).
//   mpirun -np 2 build/bench/dist/bench_collectives
// Bus bandwidth follows nccl-tests: all_reduce 2(W-1)/W · bytes / t, all_gather (W-1)/W ·
// output bytes / t. Times are the slowest rank's median.
#include <ATen/ATen.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "mmaux/dist/communicator.h"
#include "mmaux/dist/runtime.h"

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Median seconds of `op` (after warm-up), maximised over ranks.
double time_op(const std::function<void()>& op, int64_t bytes) {
  const int reps = bytes >= (16 << 20) ? 5 : bytes >= (1 << 20) ? 20 : 100;
  for (int i = 0; i < 3; ++i) op();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = now();
    op();
    t.push_back(now() - t0);
  }
  std::nth_element(t.begin(), t.begin() + reps / 2, t.end());
  double median = t[reps / 2], worst = 0;
  MPI_Allreduce(&median, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return worst;
}

}  // namespace

int main() {
  const mmaux::dist::Topology info = mmaux::dist::init_runtime(
      mmaux::dist::detect_launch([](const char* n) { return std::getenv(n); }));
  mmaux::DistOptions options;
  options.backend = mmaux::CommBackend::kMpi;
  auto comm = mmaux::dist::make_communicator(options, false, info);
  const int w = comm->world_size();
  if (info.rank == 0) {
    std::printf("MPI collectives, %d ranks, float32 (times: slowest rank's median)\n", w);
    std::printf("%10s | %10s %10s %10s | %10s %10s | %10s %10s\n", "bytes", "allred us",
                "busbw GB/s", "raw us", "gather us", "busbw GB/s", "raw us", "");
  }
  for (int64_t bytes = 1024; bytes <= (64 << 20); bytes *= 4) {
    const int64_t n = bytes / 4;
    at::Tensor t = at::ones({n}, at::kFloat);
    double ar = time_op([&] { comm->all_reduce(t, mmaux::dist::ReduceOp::kSum); }, bytes);
    double ar_raw = time_op(
        [&] {
          MPI_Allreduce(MPI_IN_PLACE, t.data_ptr(), static_cast<int>(n), MPI_FLOAT, MPI_SUM,
                        MPI_COMM_WORLD);
        },
        bytes);
    // all_gather: each rank contributes bytes / W, the output is `bytes`.
    at::Tensor part = at::ones({std::max<int64_t>(n / w, 1)}, at::kFloat);
    at::Tensor out = at::empty({part.numel() * w}, at::kFloat);
    double ag = time_op([&] { comm->all_gather(part); }, bytes);
    double ag_raw = time_op(
        [&] {
          MPI_Allgather(part.data_ptr(), static_cast<int>(part.numel()), MPI_FLOAT, out.data_ptr(),
                        static_cast<int>(part.numel()), MPI_FLOAT, MPI_COMM_WORLD);
        },
        bytes);
    if (info.rank == 0) {
      double ar_bus = 2.0 * (w - 1) / w * bytes / ar / 1e9;
      double ag_bus = (w - 1.0) / w * static_cast<double>(out.numel() * 4) / ag / 1e9;
      std::printf("%10lld | %10.1f %10.3f %10.1f | %10.1f %10.3f | %10.1f\n",
                  static_cast<long long>(bytes), ar * 1e6, ar_bus, ar_raw * 1e6, ag * 1e6, ag_bus,
                  ag_raw * 1e6);
    }
  }
  comm.reset();
  mmaux::dist::finalize_runtime();
  return 0;
}
