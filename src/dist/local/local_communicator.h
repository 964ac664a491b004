#pragma once
// Private: the communicator of a single process. Every collective is the identity (all_gather
// and reduce_scatter return copies so that callers never alias their input).

#include "mmaux/dist/communicator.h"

namespace mmaux::dist {

class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string backend() const override { return "local"; }
  void all_reduce(at::Tensor& tensor, ReduceOp op) override;
  at::Tensor all_gather(const at::Tensor& input) override;
  at::Tensor all_gather_varsize(const at::Tensor& input) override;
  at::Tensor reduce_scatter(const at::Tensor& input, const std::vector<int64_t>& counts,
                            ReduceOp op) override;
  void broadcast(at::Tensor& tensor, int root) override;
  void barrier() override {}
  std::shared_ptr<Communicator> duplicate() override;
};

}  // namespace mmaux::dist
