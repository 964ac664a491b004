#pragma once
#include <string>

namespace mmaux {
/// [log] section.
struct LogOptions {
  std::string level = "info";  ///< debug | info | warn | error
  bool all_ranks = false;      ///< info lines from every rank, not only rank 0
};
}  // namespace mmaux
