#pragma once
// Private: wraps MPI return codes. Include only from .cpp files that already use MPI.
#include <mpi.h>

#include "mmaux/core/error.h"

namespace mmaux::detail {
inline std::string mpi_error_string(int code) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  // Open MPI aborts when MPI_Error_string is called before MPI_Init.
  if (!initialised) return "MPI error (MPI not initialised, no error string)";
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) return "unknown MPI error";
  return std::string(buf, static_cast<size_t>(len));
}
}  // namespace mmaux::detail

#define MMAUX_MPI_CHECK(call)                                                                   \
  do {                                                                                          \
    int mmaux_mpi_rc_ = (call);                                                                 \
    if (mmaux_mpi_rc_ != MPI_SUCCESS) {                                                         \
      ::mmaux::detail::foreign_call_failed(                                                     \
          "MPI", #call, mmaux_mpi_rc_, ::mmaux::detail::mpi_error_string(mmaux_mpi_rc_), true); \
    }                                                                                           \
  } while (0)
