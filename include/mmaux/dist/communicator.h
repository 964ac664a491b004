#pragma once
/// The one interface through which ranks talk: LocalCommunicator (world 1), MpiCommunicator (CPU
/// tensors, Open MPI), NcclCommunicator (CUDA tensors). Every method except rank()/world_size()
/// is collective: every rank must call it, in the same order, with tensors of the same dtype
/// (and, unless stated, the same shape). Failures and timeouts throw CommError naming the rank;
/// the top-level handler then ends the job.

#include <ATen/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mmaux/config/dist_options.h"

namespace mmaux::dist {

enum class ReduceOp { kSum, kAvg, kMax, kMin };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  /// "local", "mpi" or "nccl".
  virtual std::string backend() const = 0;

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
};

/// Picks the backend from options.backend (auto: nccl when `cuda` is true and NCCL is compiled,
/// else mpi when the MPI runtime is active, else local). Collective.
std::shared_ptr<Communicator> make_communicator(const DistOptions& options, bool cuda);

}  // namespace mmaux::dist
