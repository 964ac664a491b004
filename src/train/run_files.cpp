#include "mmaux/train/run_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mmaux/core/error.h"

namespace mmaux::train {

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  MMAUX_CHECK(fd >= 0, "cannot open '{}' to sync it: {}", path, std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  MMAUX_CHECK(rc == 0, "fsync of '{}' failed: {}", path, std::strerror(err));
}

void write_file_atomic(const std::string& path, const std::string& content) {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  fs::create_directories(dir);
  std::string tmp = (dir / ("." + target.filename().string() + ".tmp")).string();
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    MMAUX_CHECK(out.good(), "cannot write '{}': {}", tmp, std::strerror(errno));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    MMAUX_CHECK(out.good(), "writing '{}' failed (disk full?)", tmp);
  }
  fsync_path(tmp);
  std::error_code ec;
  fs::rename(tmp, target, ec);
  MMAUX_CHECK(!ec, "cannot rename '{}' to '{}': {}", tmp, path, ec.message());
  fsync_path(dir.string());
}

void append_jsonl(const std::string& path, const nlohmann::json& record) {
  std::ofstream out(path, std::ios::app);
  MMAUX_CHECK(out.good(), "cannot append to '{}': {}", path, std::strerror(errno));
  out << record.dump() << '\n';
  out.flush();
}

double peak_memory_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0.0;
}

}  // namespace mmaux::train
