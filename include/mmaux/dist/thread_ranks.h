#pragma once
/// W ranks in one process: one thread per rank, connected by thread communicators (backend
/// "threads") that pass tensors through shared memory. For fast, deadlock-safe tests of
/// collective code (xgboost's way), beside the real mpirun tests: the collectives have the
/// semantics of the MPI backend (same dtypes; bfloat16 reduced in float32; int64 averages
/// truncated), reduce in rank order, and accept tensors on any device.
///
/// Failure rules (a test must fail, never hang):
///   - a collective that some rank does not join within `timeout_s` throws CommError on the
///     ranks that wait, naming the ranks that never came;
///   - ranks that call different collectives at the same position of their sequence all throw
///     CommError naming both operations;
///   - an aborted group (run_thread_ranks aborts it when a rank throws) makes every collective in
///     progress or started later throw CommError at once, as MPI_Abort ends an MPI job.

#include <functional>
#include <memory>
#include <vector>

#include "mmaux/dist/communicator.h"

namespace mmaux::dist {

/// Communicators for ranks 0 .. world_size - 1 of one new group. Each must be used by one thread
/// at a time, and every rank issues its collectives in the same order (as with MPI).
std::vector<std::shared_ptr<Communicator>> make_thread_communicators(int world_size,
                                                                     double timeout_s);

/// Runs body(comm) for every rank on its own thread over a new group and returns when all bodies
/// have returned. When a body throws, the group is aborted (the other ranks' collectives throw
/// CommError at once) and, after every thread has ended, the first exception thrown by a body is
/// rethrown here.
void run_thread_ranks(int world_size,
                      const std::function<void(const std::shared_ptr<Communicator>&)>& body,
                      double timeout_s = 60);

}  // namespace mmaux::dist
