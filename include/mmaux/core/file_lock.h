#pragma once
/// An exclusive lock on a file for the life of a process or shorter: flock(2) on an open file
/// description, so the kernel releases it when the holder closes it or dies (SIGKILL included):
/// there are no stale locks to clean up. The holder records who it is in the file; whoever finds
/// the lock taken reads that back to name the holder in its error.
///
/// Protocol of FileLock::acquire:
///   1. open (create) the file, close-on-exec, so no child process inherits the lock;
///   2. flock(LOCK_EX | LOCK_NB): never waits; a holder makes it fail at once;
///   3. on success, replace the file's content with the holder's description (LockOwner).
/// The file is never removed (unlinking a lock file races with a process that has opened it but
/// not locked it yet): its content names the current or the last holder; only the flock says
/// whether it is held.
///
/// Scope: advisory (other programs are not stopped), per open file description (two FileLocks
/// on one file conflict even in one process). Across hosts it needs a file system whose flock
/// reaches the server: NFS (Linux maps flock to NFS locks), Lustre mounted with -o flock, GPFS.

#include <cstdint>
#include <optional>
#include <string>

#include "mmaux/core/error.h"

namespace mmaux {

/// Who holds a lock, as its lock file records it.
struct LockOwner {
  std::string command;  ///< what holds it ("mmaux train")
  std::string host;
  int64_t pid = 0;
  std::string job;      ///< the batch job ("1234" or "1234_5" under Slurm); "" outside one
  std::string started;  ///< when it took the lock: UTC, "2024-05-01T12:00:00Z"

  /// "mmaux train (pid 42 on node1, Slurm job 1234_5, since 2024-05-01T12:00:00Z)"; a file with
  /// no holder recorded yet (the holder is between steps 2 and 3) reads "another process".
  std::string describe() const;
  /// The lock file's text: one "key = value" line per field.
  std::string to_text() const;
  /// Reads to_text()'s lines back; unknown or malformed lines are ignored (never throws).
  static LockOwner from_text(const std::string& text);
  /// This process: `command`, the host name, the pid, `job`, the current time.
  static LockOwner this_process(const std::string& command, const std::string& job);
};

/// The lock is held by someone else. Exit code 1 (a runtime condition, not a bad option).
class LockedError : public Error {
 public:
  LockedError(const std::string& what, LockOwner holder)
      : Error(what), holder_(std::move(holder)) {}
  const LockOwner& holder() const { return holder_; }

 private:
  LockOwner holder_;
};

class FileLock {
 public:
  /// Takes the lock on `path` (created if missing; its directory must exist) without waiting,
  /// and records `owner` in it (protocol above). Throws LockedError naming the holder when it is
  /// held, Error naming the path and the system's reason when the file cannot be opened, locked
  /// or written.
  static FileLock acquire(const std::string& path, const LockOwner& owner);

  /// The holder of the lock on `path`, or nullopt when nobody holds it or the file does not
  /// exist. Finds out by taking and releasing the lock; writes and creates nothing. A free lock
  /// may be taken by someone else right after: this answers "held now?", it reserves nothing.
  static std::optional<LockOwner> holder(const std::string& path);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  /// Releases the lock.
  ~FileLock();

  const std::string& path() const { return path_; }

 private:
  FileLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
};

}  // namespace mmaux
