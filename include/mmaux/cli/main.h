#pragma once
/// Entry points of the `mmaux` command-line tool.
#include <functional>

namespace mmaux::cli {

/// Runs `mmaux <command> [options]`; returns the process exit code (0 ok, 1 runtime error,
/// 2 usage or configuration error, 75 stopped on a signal with a resumable checkpoint).
int main_entry(int argc, char** argv);

/// Runs `body` with the top-level error handler of every mmaux process: an exception is logged
/// (on every rank, naming the rank) and, when the job has more than one rank, ends the whole job
/// with MPI_Abort so that no rank is left waiting in a collective. An AgreedError (raised by every
/// rank together) ends each rank normally with its exit code instead.
int run_guarded(const std::function<int()>& body);

}  // namespace mmaux::cli
