#pragma once
// Private: starting external programs (sbatch, squeue, gnuplot, the launcher).
#include <string>
#include <vector>

namespace mmaux::launch::detail {

struct ProcessResult {
  int exit_code = -1;  ///< the program's exit code; 128 + n when killed by signal n; 127 when
                       ///< it could not be started
  std::string output;  ///< stdout (when captured)
};

/// Runs `argv` (argv[0] looked up in PATH) and waits. Captures stdout when `capture`; stderr
/// goes to ours, or to /dev/null when `quiet`. Never throws for a failing program; the caller
/// decides.
ProcessResult run_process(const std::vector<std::string>& argv, bool capture, bool quiet = false);

/// Runs `argv` like run_process, and while it runs passes INT, TERM and USR1 sent to this
/// process on to the child as USR1 (the launcher's "checkpoint and stop"), instead of dying.
int run_forwarding_signals(const std::vector<std::string>& argv);

}  // namespace mmaux::launch::detail
