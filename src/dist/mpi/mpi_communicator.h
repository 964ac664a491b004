#pragma once
// Private: the MPI backend (CPU tensors). Every collective is a non-blocking MPI call polled
// until it completes or the timeout passes; a timeout throws CommError naming the rank and the
// operation, and the top-level handler then ends the job with MPI_Abort.

#include <mpi.h>

#include "mmaux/dist/communicator.h"

namespace mmaux::dist {

class MpiCommunicator : public Communicator {
 public:
  /// Duplicates `base` (collective over its ranks). `local_size`: the ranks on this node (more
  /// than its cores makes the polling yield).
  MpiCommunicator(double timeout_s, int local_size, MPI_Comm base = MPI_COMM_WORLD);
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  void all_reduce(at::Tensor& tensor, ReduceOp op) override;
  at::Tensor all_gather(const at::Tensor& input) override;
  at::Tensor all_gather_varsize(const at::Tensor& input) override;
  at::Tensor reduce_scatter(const at::Tensor& input, const std::vector<int64_t>& counts,
                            ReduceOp op) override;
  void broadcast(at::Tensor& tensor, int root) override;
  void barrier() override;
  std::shared_ptr<Work> all_reduce_async(at::Tensor& tensor, ReduceOp op) override;
  std::shared_ptr<Communicator> duplicate() override;

  /// Polls `request` until it completes; throws CommError after the timeout. `what` names the
  /// operation in the message.
  void wait(MPI_Request& request, const std::string& what) const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  double timeout_s_;
  int local_size_;
  bool oversubscribed_ = false;  ///< more ranks on this node than cores: yield while polling
};

}  // namespace mmaux::dist
