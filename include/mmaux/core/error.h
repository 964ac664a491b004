#pragma once
/// Exception hierarchy and check macros used everywhere in mmaux.
///
/// User, configuration and data problems are reported with MMAUX_CHECK* (they name the thing, its
/// value, what was expected and how to fix it); broken invariants are MMAUX_ASSERT ("this is a
/// bug"). Foreign C libraries (MPI, HDF5, CUDA, NCCL) have their own wrappers, private to the
/// area that uses the library (src/dist/check_mpi.h, src/dist/check_cuda.h, src/data/check_h5.h),
/// built on mmaux::detail::foreign_call_failed.

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace mmaux {

/// Process exit codes of every mmaux command.
enum ExitCode : int {
  kExitOk = 0,
  kExitRuntimeError = 1,
  kExitUsageError = 2,
  /// The trainer stopped on a signal after writing a resumable checkpoint (a job script requeues).
  kExitRequeue = 75,
};

/// Base of all mmaux errors. exit_code() is what the CLI returns for it.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
  virtual int exit_code() const { return kExitRuntimeError; }
};

/// A bad option, option value or configuration file: exit code 2.
class ConfigError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kExitUsageError; }
};

/// Bad input data: corrupt or missing files, wrong formats.
class DataError : public Error {
 public:
  using Error::Error;
};

/// A communication failure: a collective failed, timed out or a peer died.
class CommError : public Error {
 public:
  using Error::Error;
};

/// A broken invariant inside mmaux: always a bug.
class InternalError : public Error {
 public:
  using Error::Error;
};

/// A failure every rank of the job raises at the same point, after agreeing on it in a
/// collective (rank 0 could not lock the run directory and told the others): nobody waits for
/// anybody, so the top-level handler ends each rank normally (MPI_Finalize) instead of aborting
/// the job. Keeps the exit code of the error it stands for.
class AgreedError : public Error {
 public:
  AgreedError(const std::string& what, int exit_code) : Error(what), exit_code_(exit_code) {}
  int exit_code() const override { return exit_code_; }

 private:
  int exit_code_;
};

/// The rank printed in error messages of foreign calls; -1 until the runtime sets it.
int error_rank();
void set_error_rank(int rank);

namespace detail {

[[noreturn]] void throw_internal(const char* cond, const char* file, int line,
                                 const std::string& msg);

/// Throws CommError (MPI, NCCL) or Error (others) naming the call, the library's error string
/// and the rank.
[[noreturn]] void foreign_call_failed(const char* library, const char* call, int code,
                                      const std::string& error_string, bool comm);

}  // namespace detail
}  // namespace mmaux

/// Throws `type` with a fmt-formatted message when `cond` is false.
#define MMAUX_CHECK_AS(type, cond, ...)       \
  do {                                        \
    if (!(cond)) {                            \
      throw type(::fmt::format(__VA_ARGS__)); \
    }                                         \
  } while (0)

/// User-facing check: throws mmaux::Error.
#define MMAUX_CHECK(cond, ...) MMAUX_CHECK_AS(::mmaux::Error, cond, __VA_ARGS__)
#define MMAUX_CHECK_CONFIG(cond, ...) MMAUX_CHECK_AS(::mmaux::ConfigError, cond, __VA_ARGS__)
#define MMAUX_CHECK_DATA(cond, ...) MMAUX_CHECK_AS(::mmaux::DataError, cond, __VA_ARGS__)
#define MMAUX_CHECK_COMM(cond, ...) MMAUX_CHECK_AS(::mmaux::CommError, cond, __VA_ARGS__)

/// Throws `type` with a fmt-formatted message.
#define MMAUX_THROW(type, ...) throw type(::fmt::format(__VA_ARGS__))

/// Invariant check: a failure is a bug in mmaux and says so.
#define MMAUX_ASSERT(cond, ...)                                                                  \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      ::mmaux::detail::throw_internal(#cond, __FILE__, __LINE__, ::fmt::format("" __VA_ARGS__)); \
    }                                                                                            \
  } while (0)
