#pragma once
/// The one interface through which ranks talk: LocalCommunicator (world 1), MpiCommunicator (CPU
/// tensors, Open MPI), NcclCommunicator (CUDA tensors). Every method except rank()/world_size()
/// is collective: every rank must call it, in the same order, with tensors of the same dtype
/// (and, unless stated, the same shape). Failures and timeouts throw CommError naming the rank;
/// the top-level handler then ends the job.
///
/// Supported dtypes: float32, float64, bfloat16, int64 (bfloat16 is reduced in float32 by MPI).
/// Tensors live on device(): the CPU for local and mpi, this rank's GPU for nccl (the local
/// communicator accepts any device).

#include <ATen/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mmaux/config/dist_options.h"
#include "mmaux/dist/topology.h"

namespace mmaux::dist {

enum class ReduceOp { kSum, kAvg, kMax, kMin };

/// "sum", "avg", "max", "min" (for messages).
const char* reduce_op_name(ReduceOp op);

/// A collective started by an *_async call. wait() blocks until it is complete (for NCCL: until
/// the current CUDA stream is ordered after it), or throws CommError when it does not complete
/// within the communicator's timeout.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  /// Lets the operation advance without blocking (MPI's non-blocking collectives move only
  /// inside MPI calls); a no-op where the backend progresses on its own.
  virtual void progress() {}
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  /// "local", "mpi" or "nccl".
  virtual std::string backend() const = 0;
  /// Where this communicator's tensors must live (CPU for local and mpi, cuda:k for nccl).
  virtual c10::Device device() const { return c10::Device(c10::kCPU); }

  /// In place on a contiguous tensor. Collective.
  virtual void all_reduce(at::Tensor& tensor, ReduceOp op) = 0;
  /// Concatenates every rank's `input` along dim 0 (equal shapes). Collective.
  virtual at::Tensor all_gather(const at::Tensor& input) = 0;
  /// Like all_gather, but ranks may hold different sizes along dim 0 (other dims equal).
  virtual at::Tensor all_gather_varsize(const at::Tensor& input) = 0;
  /// Sums `input` (dim 0 = sum of `counts`) over ranks and returns this rank's slice of
  /// counts[rank] rows. Collective.
  virtual at::Tensor reduce_scatter(const at::Tensor& input, const std::vector<int64_t>& counts,
                                    ReduceOp op) = 0;
  /// In place: every rank receives root's tensor. Collective.
  virtual void broadcast(at::Tensor& tensor, int root) = 0;
  virtual void barrier() = 0;

  /// Starts an in-place all-reduce of a contiguous tensor and returns at once where the backend
  /// can overlap it with computation (mpi: non-blocking MPI; nccl: a communication stream). The
  /// tensor must not be read or written until wait() returns. Collective: every rank starts the
  /// same async operations in the same order. The default runs all_reduce synchronously.
  virtual std::shared_ptr<Work> all_reduce_async(at::Tensor& tensor, ReduceOp op);

  /// A new communicator over the same ranks and device whose collectives are ordered
  /// independently of this one's (mpi: MPI_Comm_dup; nccl: ncclCommSplit). GradSync runs its
  /// bucket all-reduces on one, so that they may interleave freely with the loss's collectives
  /// in backward. Collective.
  virtual std::shared_ptr<Communicator> duplicate() = 0;
};

/// Picks the backend from options.backend (auto: nccl when `cuda` is true and NCCL is compiled,
/// else mpi when the MPI runtime is active, else local). Collectives time out after
/// options.timeout_s. `topology` is init_runtime's result: local needs a world of 1, mpi reads
/// the ranks per node, nccl picks this rank's GPU from the local rank. Requires init_runtime()
/// for mpi and nccl. Collective.
std::shared_ptr<Communicator> make_communicator(const DistOptions& options, bool cuda,
                                                const Topology& topology);

/// A communicator for one process (world size 1; every collective is the identity).
std::shared_ptr<Communicator> make_local_communicator();

/// True when this build contains the NCCL backend (MMAUX_WITH_NCCL).
bool nccl_compiled();

/// Number of CUDA devices visible to this process (0 without CUDA, without a driver, or when
/// the NCCL backend is not compiled).
int cuda_device_count();

/// Row counts of every rank for a tensor of `rows` rows on this rank (all-gathers one int64;
/// the result is on the host). Collective.
std::vector<int64_t> gather_counts(int64_t rows, Communicator& comm);

}  // namespace mmaux::dist
