// main() of tests run under mpirun (see mmaux_add_mpi_test).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdlib>

#include "mmaux/dist/runtime.h"
#include "support/mpi_support.h"

namespace {
mmaux::dist::Topology g_topology;
}  // namespace

const mmaux::dist::Topology& mmaux::testing::mpi_topology() { return g_topology; }

mmaux::DistOptions mmaux::testing::mpi_test_options(double timeout_s, double bucket_mb) {
  mmaux::DistOptions options;
  options.backend = mmaux::CommBackend::kMpi;
  options.timeout_s = timeout_s;
  options.bucket_mb = bucket_mb;
  return options;
}

std::shared_ptr<mmaux::dist::Communicator> mmaux::testing::mpi_test_communicator(
    const mmaux::DistOptions& options) {
  return mmaux::dist::make_communicator(options, false, g_topology);
}

std::shared_ptr<mmaux::dist::Communicator> mmaux::testing::mpi_test_communicator(double timeout_s) {
  return mpi_test_communicator(mpi_test_options(timeout_s));
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto launch = mmaux::dist::detect_launch([](const char* n) { return std::getenv(n); });
  launch.mpi = true;  // also when started without mpirun: a singleton world of one rank
  g_topology = mmaux::dist::init_runtime(launch);
  if (g_topology.rank != 0) {
    // Other ranks print only failures, so the log stays readable at 4 ranks.
    GTEST_FLAG_SET(brief, true);
  }
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any_failed = failed;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (failed) std::fprintf(stderr, "[rank %d] tests FAILED on this rank\n", g_topology.rank);
  mmaux::dist::finalize_runtime();
  return any_failed;
}
