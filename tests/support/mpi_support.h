#pragma once
// For tests run under mpirun (mmaux_add_mpi_test): what mpi_test_main.cpp set up.
#include <memory>

#include "mmaux/dist/communicator.h"
#include "mmaux/dist/topology.h"

namespace mmaux::testing {

/// The job's topology, as dist::init_runtime returned it before the tests ran (what the CLI
/// passes down in a real run).
const dist::Topology& mpi_topology();

/// Options of backend mpi with `timeout_s` and gradient buckets of `bucket_mb` (the default, or
/// a fraction of a kilobyte to get several buckets even for a tiny model).
DistOptions mpi_test_options(double timeout_s, double bucket_mb = DistOptions{}.bucket_mb);

/// A communicator of backend mpi over the whole job (collective).
std::shared_ptr<dist::Communicator> mpi_test_communicator(const DistOptions& options);
std::shared_ptr<dist::Communicator> mpi_test_communicator(double timeout_s);

}  // namespace mmaux::testing
