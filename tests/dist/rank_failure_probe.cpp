// Started with 2 ranks: rank 1 throws while rank 0 waits in a barrier that rank 1 never joins.
// The top-level handler must end the job; without it rank 0 would wait forever.
#include <mpi.h>

#include <cstdlib>

#include "mmaux/cli/main.h"
#include "mmaux/core/error.h"
#include "mmaux/dist/runtime.h"

int main() {
  return mmaux::cli::run_guarded([] {
    const mmaux::dist::Topology info = mmaux::dist::init_runtime(
        mmaux::dist::detect_launch([](const char* n) { return std::getenv(n); }));
    if (info.rank == 1) MMAUX_THROW(mmaux::DataError, "rank 1 failed on purpose (probe)");
    MPI_Barrier(MPI_COMM_WORLD);
    return 0;
  });
}
