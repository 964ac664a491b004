#include "mmaux/train/run_lock.h"

#include <filesystem>

namespace fs = std::filesystem;

namespace mmaux::train {

std::string run_lock_path(const std::string& run_dir) {
  return (fs::path(run_dir) / kRunLockFile).string();
}

std::string run_directory_in_use(const std::string& run_dir, const LockOwner& holder) {
  return fmt::format(
      "run directory '{}' is in use by {}: one writer at a time. Wait for it to end (or stop "
      "it), or choose another directory (lock file '{}')",
      run_dir, holder.describe(), run_lock_path(run_dir));
}

FileLock lock_run_directory(const std::string& run_dir, const LockOwner& owner) {
  try {
    return FileLock::acquire(run_lock_path(run_dir), owner);
  } catch (const LockedError& e) {
    throw LockedError(run_directory_in_use(run_dir, e.holder()), e.holder());
  }
}

std::optional<LockOwner> run_directory_holder(const std::string& run_dir) {
  return FileLock::holder(run_lock_path(run_dir));
}

std::optional<std::string> enclosing_run_directory(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec).lexically_normal();
  if (ec) return std::nullopt;
  for (; !p.empty(); p = p.parent_path()) {
    if (fs::exists(p / kRunLockFile, ec) || fs::exists(p / "metrics.jsonl", ec)) return p.string();
    if (p == p.root_path()) break;
  }
  return std::nullopt;
}

}  // namespace mmaux::train
