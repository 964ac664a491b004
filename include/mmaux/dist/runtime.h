#pragma once
/// Process start-up for distributed runs: who am I (rank, local rank, world size), MPI
/// initialisation when an MPI launcher started us, and ending the whole job from any rank.
///
/// Start-up protocol:
///   1. the CLI reads the launcher's environment with detect_launch() (the library never reads
///      the environment itself);
///   2. init_runtime() initialises MPI if a launcher (mpirun, srun --mpi=pmix) started the
///      process, and returns the job's Topology: rank and world size from MPI, local rank and
///      size from a shared-memory split. The CLI passes that value down (make_communicator,
///      RunConfig); nothing reads it back from a global;
///   3. a failure on any rank is reported by that rank and ends the job with abort_job()
///      (MPI_Abort), so no rank waits forever in a collective;
///   4. finalize_runtime() at normal exit.

#include <functional>
#include <string>

#include "mmaux/config/dist_options.h"
#include "mmaux/dist/topology.h"

namespace mmaux::dist {

/// What the launcher's environment says about this process.
struct LaunchInfo {
  Topology topology;              ///< as the launcher reports it (MPI's own view may refine it)
  std::string launcher = "none";  ///< none | openmpi | pmix | pmi
  bool mpi = false;               ///< started by an MPI launcher: MPI must be initialised
};

/// Reads rank, local rank and world size from launcher variables through `getenv` (Open MPI's
/// OMPI_COMM_WORLD_*, PMIx's PMIX_RANK with Slurm's SLURM_* under srun --mpi=pmix, PMI_*).
/// Throws ConfigError for an srun step of several tasks started without MPI support.
LaunchInfo detect_launch(const std::function<const char*(const char*)>& getenv);

/// Initialises MPI when `launch.mpi` (a second call does not initialise it again). Collective
/// over the job at every call when `launch.mpi`. Returns the authoritative topology (MPI's when MPI
/// is used, else the launcher's) and sets the rank used in error messages and logs.
Topology init_runtime(const LaunchInfo& launch);

/// True when MPI was initialised and not yet finalised.
bool mpi_active();

/// Ranks of MPI_COMM_WORLD while MPI is active, else 1. For the top-level failure handler,
/// which has no Topology at hand and must know whether other ranks wait for it.
int mpi_world_size();

/// Ends every rank of the job with `code`: MPI_Abort when MPI is active with several ranks, else
/// _Exit.
[[noreturn]] void abort_job(int code);

/// Intra-op threads for each rank: options.threads when > 0, else the node's cores divided by the
/// ranks on the node (at least 1). `cores` = 0 means unknown (then 1 thread).
int threads_per_rank(const DistOptions& options, const Topology& topology, unsigned cores);

/// Finalises MPI if init_runtime initialised it (call after the last collective).
void finalize_runtime();

}  // namespace mmaux::dist
