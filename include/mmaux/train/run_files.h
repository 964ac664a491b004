#pragma once
/// Files of a run directory: metrics.jsonl (one JSON object per line, appended). results.json and
/// checkpoints are written with mmaux/core/files.h.

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace mmaux::train {

/// Appends one JSON line to `path` and flushes it.
void append_jsonl(const std::string& path, const nlohmann::json& record);

/// Peak resident memory of this process in MB (VmHWM).
double peak_memory_mb();

}  // namespace mmaux::train
