#pragma once
/// Files of a run directory: metrics.jsonl (one JSON object per line, appended), results.json
/// (written atomically at the end), and atomic file writing used by checkpoints.

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace mmaux::train {

/// Writes `content` to `path` atomically: a temporary file beside it, fsync, rename, fsync of the
/// directory. A reader sees the old file or the new one, never a part.
void write_file_atomic(const std::string& path, const std::string& content);

/// fsync of a file or directory by path; throws Error naming the path.
void fsync_path(const std::string& path);

/// Appends one JSON line to `path` and flushes it.
void append_jsonl(const std::string& path, const nlohmann::json& record);

/// Peak resident memory of this process in MB (VmHWM).
double peak_memory_mb();

}  // namespace mmaux::train
