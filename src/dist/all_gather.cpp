#include "mmaux/dist/all_gather.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "mmaux/core/error.h"

namespace mmaux::dist {
namespace {

bool all_equal(const std::vector<int64_t>& counts) {
  for (int64_t c : counts) {
    if (c != counts.front()) return false;
  }
  return true;
}

at::Tensor gather(const at::Tensor& x, Communicator& comm, const std::vector<int64_t>& counts) {
  MMAUX_CHECK_COMM(static_cast<int>(counts.size()) == comm.world_size(),
                   "all_gather_with_grad: {} counts for a world of {} ranks", counts.size(),
                   comm.world_size());
  MMAUX_CHECK_COMM(x.dim() >= 1 && x.size(0) == counts[comm.rank()],
                   "all_gather_with_grad: this rank (rank {}) holds {} rows but counts say {}",
                   comm.rank(), x.dim() ? x.size(0) : 0, counts[comm.rank()]);
  return all_equal(counts) ? comm.all_gather(x) : comm.all_gather_varsize(x);
}

// Forward: all-gather. Backward: reduce-scatter of the upstream gradient, so that every rank's
// slice receives the gradient contributions of all ranks' losses. The communicator outlives the
// graph (documented in the header); it is kept as an address because saved_data holds IValues.
struct GatherWithGrad : public torch::autograd::Function<GatherWithGrad> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            Communicator* comm, const std::vector<int64_t>& counts,
                            int64_t backward_op) {
    ctx->saved_data["comm"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(comm));
    ctx->saved_data["counts"] = counts;
    ctx->saved_data["op"] = backward_op;
    return gather(x, *comm, counts);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* comm =
        reinterpret_cast<Communicator*>(static_cast<intptr_t>(ctx->saved_data["comm"].toInt()));
    std::vector<int64_t> counts = ctx->saved_data["counts"].toIntVector();
    auto op = static_cast<ReduceOp>(ctx->saved_data["op"].toInt());
    at::Tensor grad = comm->reduce_scatter(grads[0].contiguous(), counts, op);
    return {grad, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor all_gather_with_grad(const at::Tensor& x, Communicator& comm,
                                const std::vector<int64_t>& counts, ReduceOp backward_op) {
  std::vector<int64_t> c = counts.empty() ? gather_counts(x.dim() ? x.size(0) : 0, comm) : counts;
  if (!x.requires_grad()) return gather(x, comm, c);
  return GatherWithGrad::apply(x, &comm, c, static_cast<int64_t>(backward_op));
}

at::Tensor all_gather_no_grad(const at::Tensor& x, Communicator& comm,
                              const std::vector<int64_t>& counts) {
  std::vector<int64_t> c = counts.empty() ? gather_counts(x.dim() ? x.size(0) : 0, comm) : counts;
  return gather(x.detach(), comm, c);
}

}  // namespace mmaux::dist
