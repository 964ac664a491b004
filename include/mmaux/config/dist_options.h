#pragma once
#include <string>

namespace mmaux {
/// [dist] section: how ranks talk to each other.
struct DistOptions {
  std::string backend = "auto";    ///< auto | local | mpi | nccl (auto: nccl for CUDA tensors)
  double timeout_s = 300;          ///< a collective that takes longer ends the job
  int threads = 0;                 ///< intra-op threads per rank; 0 = cores / ranks on this node
  double bucket_mb = 25;           ///< gradient all-reduce bucket size
  int divergence_check_every = 0;  ///< hash parameters every K steps and compare ranks (0 = off)
};
}  // namespace mmaux
