// Prints what bench_train.sh needs to turn samples/s into a share of the machine's peak: the
// forward FLOPs per sample of a model preset and the GFLOP/s of a large float32 matmul with the
// given thread count, measured now.
//   bench_flops MODEL PRESET TEXT_LENGTH THREADS  ->  "<forward GFLOP per sample> <matmul GFLOP/s>"
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mmaux/model/config.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: bench_flops MODEL PRESET TEXT_LENGTH THREADS\n");
    return 2;
  }
  at::set_num_threads(std::atoi(argv[4]));
  auto cfg =
      mmaux::model::preset_config(mmaux::parse_option<mmaux::ModelKind>("MODEL", argv[1]),
                                  mmaux::parse_option<mmaux::ModelPreset>("PRESET", argv[2]));
  double fwd = mmaux::model::forward_flops(cfg, std::atoll(argv[3]));
  const int64_t n = 1024;
  at::Tensor a = at::randn({n, n}), b = at::randn({n, n});
  at::matmul(a, b);  // warm-up
  int reps = 0;
  auto t0 = std::chrono::steady_clock::now();
  double secs = 0;
  while (secs < 1.0) {
    at::matmul(a, b);
    ++reps;
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  std::printf("%.6f %.2f\n", fwd / 1e9, 2.0 * n * n * n * reps / secs / 1e9);
  return 0;
}
