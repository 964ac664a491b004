#pragma once
/// One writer at a time in a run directory: RUN/run.lock (mmaux/core/file_lock.h). `mmaux train`
/// holds it for the whole run (rank 0 takes it before anything is written), `mmaux eval` while it
/// writes into a run, and `mmaux sweep` checks it before it prepares or launches a run. Without
/// libtorch: the sweep (launch) uses it too.

#include <optional>
#include <string>

#include "mmaux/core/file_lock.h"

namespace mmaux::train {

/// The lock file's name inside a run directory.
inline constexpr const char* kRunLockFile = "run.lock";

/// RUN/run.lock.
std::string run_lock_path(const std::string& run_dir);

/// Takes the lock of `run_dir` (which must exist) for `owner`. Throws LockedError naming the
/// directory, the holder and what to do when another process holds it. Not collective.
FileLock lock_run_directory(const std::string& run_dir, const LockOwner& owner);

/// The holder of `run_dir`'s lock, or nullopt when it is free (or the directory has none).
std::optional<LockOwner> run_directory_holder(const std::string& run_dir);

/// The message of LockedError for `run_dir` held by `holder`.
std::string run_directory_in_use(const std::string& run_dir, const LockOwner& holder);

/// The run directory `path` lies in: the nearest of `path` and its ancestors that holds a
/// run.lock or a metrics.jsonl (runs written before the lock existed), or nullopt.
std::optional<std::string> enclosing_run_directory(const std::string& path);

}  // namespace mmaux::train
