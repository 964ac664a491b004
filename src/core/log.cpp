#include "mmaux/core/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "mmaux/core/error.h"

namespace mmaux {
namespace {
LogConfig g_config;
std::mutex g_mutex;

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO ";
    case LogLevel::kWarn:
      return "WARN ";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}
}  // namespace

void configure_logging(const LogConfig& config) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_config = config;
}

const LogConfig& logging_config() { return g_config; }

bool log_enabled(LogLevel level) {
  if (level < g_config.level) return false;
  if (level >= LogLevel::kWarn) return true;
  return g_config.all_ranks || g_config.rank == 0;
}

std::string format_log_prefix(LogLevel level, std::string_view subsystem, const LogConfig& config) {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = fmt::format("{}.{:03d} {} ", stamp, static_cast<int>(ms), level_name(level));
  if (config.world_size > 1) out += fmt::format("[rank {}/{}] ", config.rank, config.world_size);
  if (!subsystem.empty()) out += fmt::format("[{}] ", subsystem);
  return out;
}

void log_line(LogLevel level, std::string_view subsystem, std::string_view message) {
  std::string line = format_log_prefix(level, subsystem, g_config);
  line.append(message.data(), message.size());
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace mmaux
