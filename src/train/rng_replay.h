#pragma once
// Private: the random state of the micro-batches of one accumulated step
// (contrastive_accumulation.cpp). The encoder pass of a micro-batch runs twice, first without
// gradient, then with it; the second run must see the first run's dropout masks.
//
//   - CPU: mmaux's dropout masks are keyed by global row (model::DropoutRows) and seeded by one
//     draw per dropout call from libtorch's CPU generator. Every pass of every micro-batch starts
//     from the step's state, as one process on the whole batch starts: its masks are exactly that
//     process's, and after the last micro-batch the generator is where that process leaves it
//     (the same number of draws).
//   - CUDA: libtorch's dropout keys masks by element index, so a repeated state would repeat
//     masks across micro-batches. The CUDA generator runs on through the first passes (one fresh
//     state per micro-batch, recorded); the second pass of micro-batch j replays j's recorded
//     state for its encoder, then continues a separate tail of the stream for the rest (the
//     classifier, ITM), so no state is used twice.

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

#include <vector>

namespace mmaux::train {

class RngReplay {
 public:
  /// Records the current states (the CPU generator's, and `device`'s when it is a GPU).
  explicit RngReplay(c10::Device device);

  /// Before micro-batch j's encoder pass without gradient (j = 0, 1, … in order).
  void first_pass(int j);
  /// After the last first pass.
  void end_first_passes();
  /// Before micro-batch j's encoder pass with gradient.
  void replay(int j);
  /// After that encoder pass, before the rest of micro-batch j's forward.
  void after_encoder(int j);
  /// After micro-batch j's last forward.
  void end_micro(int j);

 private:
  at::Tensor cpu_start_;
  bool cuda_ = false;
  bool recorded_ = false;  // first passes ran: CUDA states to replay
  c10::Device device_;
  std::vector<at::Tensor> cuda_encoder_;  // CUDA state before micro-batch j's first pass
  at::Tensor cuda_tail_;
};

}  // namespace mmaux::train
