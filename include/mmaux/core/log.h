#pragma once
/// fmt-based logger: levels, timestamps, `[subsystem]` tags and a `[rank r/n]` prefix when
/// distributed. By default only rank 0 prints info and debug lines; warnings and errors print on
/// every rank so that a failing rank is always heard. Thread-safe (one line per call).

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace mmaux {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
  bool all_ranks = false;  ///< info/debug from every rank, not only rank 0
  int rank = 0;
  int world_size = 1;
};

/// Sets the process-wide logging configuration (call once at start, and again when the rank is
/// known).
void configure_logging(const LogConfig& config);
const LogConfig& logging_config();

/// True when a line of this level would be printed by this process.
bool log_enabled(LogLevel level);

/// Writes one formatted line to stderr.
void log_line(LogLevel level, std::string_view subsystem, std::string_view message);

template <typename... Args>
void log_debug(std::string_view subsystem, fmt::format_string<Args...> f, Args&&... args) {
  if (log_enabled(LogLevel::kDebug))
    log_line(LogLevel::kDebug, subsystem, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_info(std::string_view subsystem, fmt::format_string<Args...> f, Args&&... args) {
  if (log_enabled(LogLevel::kInfo))
    log_line(LogLevel::kInfo, subsystem, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_warn(std::string_view subsystem, fmt::format_string<Args...> f, Args&&... args) {
  if (log_enabled(LogLevel::kWarn))
    log_line(LogLevel::kWarn, subsystem, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void log_error(std::string_view subsystem, fmt::format_string<Args...> f, Args&&... args) {
  if (log_enabled(LogLevel::kError))
    log_line(LogLevel::kError, subsystem, fmt::format(f, std::forward<Args>(args)...));
}

/// Formats the prefix of a log line (exposed for tests): "2026-11-28 07:00:00.123 INFO
/// [rank 1/2] [data] ".
std::string format_log_prefix(LogLevel level, std::string_view subsystem, const LogConfig& config);

}  // namespace mmaux
