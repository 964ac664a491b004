#include "cli/command.h"

namespace mmaux::cli {

// Each option's trajectory flag is declared where the option is: `.bookkeeping()` marks an option
// whose value never changes what a run computes, `.stopping()` one that only says where the run
// ends (see mmaux::OptionValue).

void declare_log_options(OptionSet& set, LogOptions& o) {
  set.group("Logging")
      .add("log.level", &o.level, "debug, info, warn or error")
      .bookkeeping()
      .add("log.all-ranks", &o.all_ranks, "print info lines from every rank, not only rank 0")
      .bookkeeping();
}

void declare_dist_options(OptionSet& set, DistOptions& o) {
  set.group("Distributed")
      .add("dist.backend", &o.backend, "auto (nccl for CUDA tensors, else mpi), local, mpi, nccl")
      .add("dist.timeout-s", &o.timeout_s, "seconds after which a collective ends the job",
           in_range(1, 86400))
      .bookkeeping()
      .add("dist.threads", &o.threads, "intra-op threads per rank (0 = cores / ranks on the node)",
           int_range(0, 1024))
      .bookkeeping()
      .add("dist.bucket-mb", &o.bucket_mb, "gradient all-reduce bucket size in MB",
           in_range(0.001, 4096))
      .bookkeeping()
      .add("dist.divergence-check-every", &o.divergence_check_every,
           "compare a parameter hash across ranks every K steps (0 = off)", int_range(0, 1 << 30))
      .bookkeeping();
}

}  // namespace mmaux::cli
