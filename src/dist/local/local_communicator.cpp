#include "dist/local/local_communicator.h"

#include <ATen/ATen.h>

#include "mmaux/core/error.h"

namespace mmaux::dist {

void LocalCommunicator::all_reduce(at::Tensor& tensor, ReduceOp op) {
  MMAUX_ASSERT(tensor.defined(), "all_reduce of an undefined tensor");
}

at::Tensor LocalCommunicator::all_gather(const at::Tensor& input) { return input.clone(); }

at::Tensor LocalCommunicator::all_gather_varsize(const at::Tensor& input) { return input.clone(); }

at::Tensor LocalCommunicator::reduce_scatter(const at::Tensor& input,
                                             const std::vector<int64_t>& counts, ReduceOp op) {
  MMAUX_ASSERT(counts.size() == 1 && input.dim() >= 1 && counts[0] == input.size(0),
               "reduce_scatter on one rank: counts must be {{{}}}",
               input.dim() ? input.size(0) : 0);
  return input.clone();
}

void LocalCommunicator::broadcast(at::Tensor& tensor, int root) {
  MMAUX_CHECK_CONFIG(root == 0, "broadcast root {} does not exist in a world of 1 rank", root);
}

std::shared_ptr<Communicator> LocalCommunicator::duplicate() {
  return std::make_shared<LocalCommunicator>();
}

}  // namespace mmaux::dist
