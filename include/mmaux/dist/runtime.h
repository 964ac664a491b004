#pragma once
/// Process start-up for distributed runs: who am I (rank, local rank, world size), MPI
/// initialisation when an MPI launcher started us, and ending the whole job from any rank.
///
/// Start-up protocol:
///   1. the CLI reads the launcher's environment with detect_launch() (the library never reads
///      the environment itself);
///   2. init_runtime() initialises MPI if a launcher (mpirun, srun --mpi=pmix) started the
///      process, and takes rank and world size from MPI, local rank from a shared-memory split;
///   3. a failure on any rank is reported by that rank and ends the job with abort_job()
///      (MPI_Abort), so no rank waits forever in a collective;
///   4. finalize_runtime() at normal exit.

#include <functional>
#include <string>

#include "mmaux/config/dist_options.h"

namespace mmaux::dist {

struct LaunchInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;             ///< rank among the processes on this node (GPU selection)
  int local_size = 1;             ///< processes on this node (threads per rank)
  std::string launcher = "none";  ///< none | openmpi | pmix | pmi
  bool mpi = false;               ///< started by an MPI launcher: MPI must be initialised
};

/// Reads rank, local rank and world size from launcher variables through `getenv` (Open MPI's
/// OMPI_COMM_WORLD_*, PMIx's PMIX_RANK with Slurm's SLURM_* under srun --mpi=pmix, PMI_*).
/// Throws ConfigError for an srun step of several tasks started without MPI support.
LaunchInfo detect_launch(const std::function<const char*(const char*)>& getenv);

/// Initialises MPI when `launch.mpi` (collective over the job); idempotent. Returns the
/// authoritative process layout and sets the rank used in error messages and logs.
const LaunchInfo& init_runtime(const LaunchInfo& launch);

/// The layout set by init_runtime (world size 1 before it).
const LaunchInfo& runtime_info();

/// True when MPI was initialised by init_runtime and not yet finalised.
bool mpi_active();

/// Ends every rank of the job with `code`: MPI_Abort when MPI is active, else _Exit.
[[noreturn]] void abort_job(int code);

/// Intra-op threads for each rank: options.threads when > 0, else the node's cores divided by the
/// ranks on the node (at least 1). `cores` = 0 means unknown (then 1 thread).
int threads_per_rank(const DistOptions& options, const LaunchInfo& launch, unsigned cores);

/// Finalises MPI if init_runtime initialised it (call after the last collective).
void finalize_runtime();

}  // namespace mmaux::dist
