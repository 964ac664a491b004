#pragma once
/// Version and build information of this mmaux build.
#include <string>

namespace mmaux {
/// "0.1.0"
const char* version();
/// Commit the build was configured from ("unknown" outside git).
const char* git_revision();
/// One line per component: mmaux, git, compiler, build type, NCCL support.
std::string build_summary();
}  // namespace mmaux
