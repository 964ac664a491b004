#pragma once
#include "mmaux/config/enum_names.h"

namespace mmaux {

/// dist.backend: auto picks nccl for CUDA tensors (when built with NCCL), else mpi under an MPI
/// launcher, else local.
enum class CommBackend { kAuto, kLocal, kMpi, kNccl };
template <>
struct EnumNames<CommBackend> {
  static constexpr EnumName<CommBackend> table[] = {{CommBackend::kAuto, "auto"},
                                                    {CommBackend::kLocal, "local"},
                                                    {CommBackend::kMpi, "mpi"},
                                                    {CommBackend::kNccl, "nccl"}};
};

/// [dist] section: how ranks talk to each other.
struct DistOptions {
  CommBackend backend = CommBackend::kAuto;  ///< auto | local | mpi | nccl
  double timeout_s = 300;                    ///< a collective that takes longer ends the job
  int threads = 0;                 ///< intra-op threads per rank; 0 = cores / ranks on this node
  double bucket_mb = 25;           ///< gradient all-reduce bucket size
  int divergence_check_every = 0;  ///< hash parameters every K steps and compare ranks (0 = off)
};
}  // namespace mmaux
