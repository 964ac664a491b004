#include "mmaux/train/run_files.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mmaux/core/error.h"

namespace mmaux::train {

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
