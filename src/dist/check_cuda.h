#pragma once
// Private: wraps CUDA runtime and NCCL return codes. Only compiled into the NCCL target.
#include <cuda_runtime_api.h>
#include <nccl.h>

#include "mmaux/core/error.h"

#define MMAUX_CUDA_CHECK(call)                                                              \
  do {                                                                                      \
    cudaError_t mmaux_cuda_rc_ = (call);                                                    \
    if (mmaux_cuda_rc_ != cudaSuccess) {                                                    \
      ::mmaux::detail::foreign_call_failed("CUDA", #call, static_cast<int>(mmaux_cuda_rc_), \
                                           cudaGetErrorString(mmaux_cuda_rc_), false);      \
    }                                                                                       \
  } while (0)

#define MMAUX_NCCL_CHECK(call)                                                              \
  do {                                                                                      \
    ncclResult_t mmaux_nccl_rc_ = (call);                                                   \
    if (mmaux_nccl_rc_ != ncclSuccess && mmaux_nccl_rc_ != ncclInProgress) {                \
      ::mmaux::detail::foreign_call_failed("NCCL", #call, static_cast<int>(mmaux_nccl_rc_), \
                                           ncclGetErrorString(mmaux_nccl_rc_), true);       \
    }                                                                                       \
  } while (0)
