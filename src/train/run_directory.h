#pragma once
// Private: a run directory held by one job. Rank 0 takes its lock (mmaux/train/run_lock.h)
// before anything is written, and then repairs what a killed writer left behind.

#include <optional>
#include <string>

#include "mmaux/core/file_lock.h"
#include "mmaux/dist/communicator.h"

namespace mmaux::train {

/// Rank 0 takes the lock of `run_dir` for `owner` (creating the directory first when `create`);
/// a broadcast tells every rank whether it could. When it could not, every rank throws
/// AgreedError at once, rank 0's naming the holder, so that no rank waits for another and the
/// job ends without MPI_Abort. `run_dir` "" on rank 0: nothing to lock. Returns the lock on rank
/// 0, nullopt elsewhere. Collective.
std::optional<FileLock> lock_for_job(const std::string& run_dir, const LockOwner& owner,
                                     bool create, dist::Communicator& comm);

/// Removes or puts right what a writer killed half-way left in `run_dir`, logging each repair:
/// staged directories (checkpoints/.tmp-*, .tmp-best), core's temporary files and directories
/// moved aside (recover_interrupted_writes) in the run directory, best/ and checkpoints/, and a
/// last line of metrics.jsonl cut short. Precondition: this process holds the run's lock (no
/// other writer is at work there). Not collective.
void repair_run_directory(const std::string& run_dir);

}  // namespace mmaux::train
