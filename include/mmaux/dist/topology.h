#pragma once
/// Where this process sits in a job. Built once at start-up (dist::init_runtime, called by the
/// CLI) and passed down as a value to whatever needs it (make_communicator, thread and device
/// selection); nothing in the library reads it from a global.

namespace mmaux::dist {

struct Topology {
  int rank = 0;        ///< 0 .. world_size - 1
  int world_size = 1;  ///< processes in the job
  int local_rank = 0;  ///< rank among the processes on this node (GPU selection)
  int local_size = 1;  ///< processes on this node (threads per rank, oversubscription)
};

}  // namespace mmaux::dist
