#pragma once
// Private: the entry points of the NCCL target (mmaux_dist_nccl), declared without any CUDA
// header so that the factory can call them. Defined only when MMAUX_WITH_NCCL is 1.

#include <memory>

#include "mmaux/config/dist_options.h"
#include "mmaux/dist/communicator.h"
#include "mmaux/dist/topology.h"

namespace mmaux::dist {

/// Collective over the job (bootstraps through MPI when the world has several ranks).
std::shared_ptr<Communicator> make_nccl_communicator(const DistOptions& options,
                                                     const Topology& topology);

/// cudaGetDeviceCount, with any error (no driver, no device) read as 0 devices.
int nccl_cuda_device_count();

}  // namespace mmaux::dist
