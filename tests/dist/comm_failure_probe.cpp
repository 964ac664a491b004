// Started with 2 ranks. Rank 0 enters an all-reduce that rank 1 never joins:
//   timeout: rank 1 sleeps; rank 0's collective must time out (CommError naming rank and op)
//            and the top-level handler must end the job;
//   die:     rank 1 is killed by a signal; the launcher must end the job.
// Without either mechanism rank 0 would wait forever.
#include <ATen/ATen.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>

#include "mmaux/cli/main.h"
#include "mmaux/core/error.h"
#include "mmaux/dist/communicator.h"
#include "mmaux/dist/runtime.h"

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  return mmaux::cli::run_guarded([&] {
    MMAUX_CHECK_CONFIG(mode == "timeout" || mode == "die", "usage: comm_failure_probe timeout|die");
    const mmaux::dist::Topology topology = mmaux::dist::init_runtime(
        mmaux::dist::detect_launch([](const char* n) { return std::getenv(n); }));
    mmaux::DistOptions options;
    options.backend = mmaux::CommBackend::kMpi;
    options.timeout_s = mode == "timeout" ? 2 : 120;
    auto comm = mmaux::dist::make_communicator(options, false, topology);
    at::Tensor t = at::ones({16}, at::kDouble);
    comm->all_reduce(t, mmaux::dist::ReduceOp::kSum);  // everyone is alive here
    if (comm->rank() == 1) {
      if (mode == "die") std::raise(SIGKILL);
      std::this_thread::sleep_for(std::chrono::seconds(120));
    }
    comm->all_reduce(t, mmaux::dist::ReduceOp::kSum);
    return 0;
  });
}
