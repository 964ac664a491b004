#pragma once
#include "mmaux/config/enum_names.h"
#include "mmaux/core/log.h"

namespace mmaux {

template <>
struct EnumNames<LogLevel> {
  static constexpr EnumName<LogLevel> table[] = {{LogLevel::kDebug, "debug"},
                                                 {LogLevel::kInfo, "info"},
                                                 {LogLevel::kWarn, "warn"},
                                                 {LogLevel::kError, "error"}};
};

/// [log] section.
struct LogOptions {
  LogLevel level = LogLevel::kInfo;  ///< debug | info | warn | error
  bool all_ranks = false;            ///< info lines from every rank, not only rank 0
};
}  // namespace mmaux
