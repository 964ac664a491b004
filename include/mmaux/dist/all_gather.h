#pragma once
/// All-gather as an autograd function: the piece that lets each rank compute a local b x N
/// contrastive loss whose gradient, after the gradient averaging of GradSync, equals the
/// single-process global-batch gradient (METHOD.md §1, first row of the table).

#include <ATen/Tensor.h>

#include <cstdint>
#include <vector>

#include "mmaux/dist/communicator.h"

namespace mmaux::dist {

/// Forward: concatenates every rank's `x` along dim 0 (ranks may hold different row counts).
/// Backward: reduce-scatter of the upstream gradient with `backward_op` over ranks, so that rank
/// r's input gradient is the sum over ranks of the upstream gradients of r's slice.
///
/// `counts`: the row count of every rank when the caller knows it (skips one small all-gather);
/// empty: gathered here. `backward_op` other than kSum exists only to demonstrate the biased
/// combination of METHOD.md's table in tests; use the default.
/// `x` lives on comm.device(). Collective (forward and backward).
at::Tensor all_gather_with_grad(const at::Tensor& x, Communicator& comm,
                                const std::vector<int64_t>& counts = {},
                                ReduceOp backward_op = ReduceOp::kSum);

/// Forward all-gather without gradient (the result is detached). Collective.
at::Tensor all_gather_no_grad(const at::Tensor& x, Communicator& comm,
                              const std::vector<int64_t>& counts = {});

}  // namespace mmaux::dist
