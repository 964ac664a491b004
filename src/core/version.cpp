#include "mmaux/core/version.h"

#include <fmt/format.h>

#include "core/build_info.h"

namespace mmaux {

const char* version() { return MMAUX_VERSION_STRING; }
const char* git_revision() { return MMAUX_GIT_REVISION; }

std::string build_summary() {
  return fmt::format("mmaux {}\ngit revision: {}\ncompiler: {}\nbuild type: {}\nNCCL backend: {}\n",
                     MMAUX_VERSION_STRING, MMAUX_GIT_REVISION, MMAUX_COMPILER, MMAUX_BUILD_TYPE,
                     MMAUX_NCCL_ENABLED ? "compiled" : "not compiled");
}

}  // namespace mmaux
