#include "mmaux/dist/runtime.h"

#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "dist/check_mpi.h"
#include "mmaux/core/error.h"
#include "mmaux/core/log.h"

namespace mmaux::dist {
namespace {

// Whether finalize_runtime must call MPI_Finalize: MPI's own state, not the job's topology.
bool g_we_initialised = false;

int env_int(const std::function<const char*(const char*)>& getenv, const char* name, int fallback) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  MMAUX_CHECK_CONFIG(*end == '\0' && x >= 0,
                     "environment variable {}='{}' is not a non-negative integer", name, v);
  return static_cast<int>(x);
}

}  // namespace

LaunchInfo detect_launch(const std::function<const char*(const char*)>& getenv) {
  LaunchInfo info;
  Topology& t = info.topology;
  if (getenv("OMPI_COMM_WORLD_SIZE") != nullptr) {
    info.launcher = "openmpi";
    info.mpi = true;
    t.rank = env_int(getenv, "OMPI_COMM_WORLD_RANK", 0);
    t.world_size = env_int(getenv, "OMPI_COMM_WORLD_SIZE", 1);
    t.local_rank = env_int(getenv, "OMPI_COMM_WORLD_LOCAL_RANK", 0);
    t.local_size = env_int(getenv, "OMPI_COMM_WORLD_LOCAL_SIZE", 1);
  } else if (getenv("PMIX_RANK") != nullptr) {
    info.launcher = "pmix";
    info.mpi = true;
    t.rank = env_int(getenv, "PMIX_RANK", 0);
    t.world_size = env_int(getenv, "SLURM_STEP_NUM_TASKS", env_int(getenv, "SLURM_NTASKS", 1));
    t.local_rank = env_int(getenv, "SLURM_LOCALID", 0);
    t.local_size = env_int(getenv, "SLURM_STEP_TASKS_PER_NODE", 1);
  } else if (getenv("PMI_RANK") != nullptr) {
    info.launcher = "pmi";
    info.mpi = true;
    t.rank = env_int(getenv, "PMI_RANK", 0);
    t.world_size = env_int(getenv, "PMI_SIZE", 1);
  } else if (env_int(getenv, "SLURM_STEP_NUM_TASKS", 1) > 1) {
    MMAUX_THROW(ConfigError,
                "started by srun as one of {} tasks without MPI support; use 'srun --mpi=pmix' "
                "(Debian's Open MPI has no PMI2 support) or mpirun inside the allocation",
                env_int(getenv, "SLURM_STEP_NUM_TASKS", 1));
  }
  MMAUX_CHECK_CONFIG(t.rank < t.world_size, "launcher reports rank {} but world size {}", t.rank,
                     t.world_size);
  return info;
}

Topology init_runtime(const LaunchInfo& launch) {
  Topology t = launch.topology;
  if (launch.mpi) {
    int already = 0;
    MPI_Initialized(&already);
    if (!already) {
      int provided = 0;
      MMAUX_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided));
      g_we_initialised = true;
    }
    // Errors come back as codes, so that every MPI failure becomes an mmaux::CommError naming
    // the call and the rank instead of Open MPI's default abort without context.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MMAUX_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &t.rank));
    MMAUX_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &t.world_size));
    MPI_Comm node;
    MMAUX_MPI_CHECK(
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    MMAUX_MPI_CHECK(MPI_Comm_rank(node, &t.local_rank));
    MMAUX_MPI_CHECK(MPI_Comm_size(node, &t.local_size));
    MMAUX_MPI_CHECK(MPI_Comm_free(&node));
  }
  set_error_rank(t.world_size > 1 ? t.rank : -1);
  LogConfig log = logging_config();
  log.rank = t.rank;
  log.world_size = t.world_size;
  configure_logging(log);
  return t;
}

bool mpi_active() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

int mpi_world_size() {
  int size = 1;
  if (mpi_active() && MPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS) size = 1;
  return size;
}

void abort_job(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (mpi_world_size() > 1) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

int threads_per_rank(const DistOptions& options, const Topology& topology, unsigned cores) {
  if (options.threads > 0) return options.threads;
  if (cores == 0) return 1;
  return std::max(1, static_cast<int>(cores) / std::max(1, topology.local_size));
}

void finalize_runtime() {
  if (g_we_initialised && mpi_active()) MPI_Finalize();
  g_we_initialised = false;
}

}  // namespace mmaux::dist
