#include "mmaux/core/error.h"

#include <atomic>

namespace mmaux {
namespace {
std::atomic<int> g_error_rank{-1};
}

int error_rank() { return g_error_rank.load(); }
void set_error_rank(int rank) { g_error_rank.store(rank); }

namespace detail {

void throw_internal(const char* cond, const char* file, int line, const std::string& msg) {
  std::string text = fmt::format("internal error: check '{}' failed at {}:{}", cond, file, line);
  if (!msg.empty()) text += ": " + msg;
  text += " (this is a bug in mmaux; please report it with the command line and log)";
  throw InternalError(text);
}

void foreign_call_failed(const char* library, const char* call, int code,
                         const std::string& error_string, bool comm) {
  std::string where = error_rank() >= 0 ? fmt::format(" on rank {}", error_rank()) : "";
  std::string text =
      fmt::format("{} call {} failed{}: {} (code {})", library, call, where, error_string, code);
  if (comm) throw CommError(text);
  throw Error(text);
}

}  // namespace detail
}  // namespace mmaux
