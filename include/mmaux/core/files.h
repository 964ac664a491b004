#pragma once
/// Durable file writing shared by every area: atomic file replacement, atomic directory
/// replacement, fsync, and whole-file reads.
///
/// write_file_atomic protocol:
///   1. create a new temporary file beside `path` (same directory, so the rename cannot cross
///      file systems), named .<file name>.tmp-<pid>-<n>, created exclusively;
///   2. write the content, flush and close it, checking each result;
///   3. fsync the temporary file, so its bytes are on disk before its name is;
///   4. rename it over `path` (atomic on POSIX file systems);
///   5. fsync the directory, so the rename itself survives a crash.
/// A failure at any step removes the temporary file, leaves `path` as it was (the old file or
/// none) and throws Error naming the path, the step and the system's reason.

#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace mmaux {

/// Replaces `path` with `content` atomically (steps above): a reader sees the old file or the
/// new one, never a part. Creates missing parent directories.
void write_file_atomic(const std::string& path, std::string_view content);

/// Like write_file_atomic(path, content), with the content written by `write` into a binary
/// stream (large files are never held in memory). An exception from `write` is propagated after
/// the temporary file is removed.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

/// Replaces directory `target` with the complete directory `staged` (same parent directory):
///   1. fsync `staged` (the caller has written and synced its files);
///   2. move an existing `target` aside to .old-<name> beside it (a leftover of an earlier crash
///      there is removed first);
///   3. rename `staged` to `target`;
///   4. fsync the parent directory, then remove the old copy.
/// A crash between 2 and 3 leaves the previous version under .old-<name>. Throws Error naming
/// the paths when a step fails.
void replace_directory(const std::string& staged, const std::string& target);

/// Puts right what a writer killed inside write_file_atomic or replace_directory left in `dir`
/// (not recursive): temporary files (.<name>.tmp-<pid>-<n>) are removed; a previous version moved
/// aside (.old-<name>) is moved back when <name> is missing (killed between steps 2 and 3 of
/// replace_directory), else removed. Returns one line per repair ("removed '...'"); nothing for
/// a missing `dir`. Precondition: nobody writes into `dir` meanwhile (the caller holds its lock).
/// Throws Error naming the path when a removal or rename fails.
std::vector<std::string> recover_interrupted_writes(const std::string& dir);

/// Whether `name` (a file name) has the form of a write_file_atomic temporary file.
bool is_atomic_write_temporary(std::string_view name);

/// fsync of a file or directory by path; throws Error naming the path.
void fsync_path(const std::string& path);

/// Reads a whole file; throws DataError naming it when it cannot be read.
std::string read_whole_file(const std::string& path);

}  // namespace mmaux
