#pragma once
// One CE + ITC + ITM training step of a real model (float64, dropout off) on a chosen device, and
// the comparison of two such steps: what the GPU tests use to show that a step on CUDA equals
// the same step on the CPU. Losses, the ITM pairs, every gradient and the AdamW update are kept.

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "mmaux/dist/communicator.h"
#include "mmaux/loss/itm.h"

namespace mmaux::testing {

/// What one step runs: model kind and preset, the ITM mode, the batch and the seeds.
struct StepCase {
  std::string model = "ber-vit-concat";
  std::string preset = "tiny";
  loss::ItmMode itm = loss::ItmMode::kHard;
  int64_t batch = 6;
  uint64_t seed = 11;
  /// Images of different sizes in one batch (ViLT): rows padded to the largest, with a pixel mask.
  bool padded_images = false;
  at::ScalarType dtype = at::kDouble;  ///< of the model and the pixels
  bool bf16_autocast = false;          ///< the forward passes under bf16 autocast (CUDA only)
};

/// Everything a step produced, copied to the CPU in float64 (ITM rows as int64). A parameter
/// without a gradient has an undefined tensor in `grads`.
struct StepResult {
  std::vector<std::pair<std::string, double>> losses;      ///< ce, itc, itm, total
  std::vector<std::pair<std::string, at::Tensor>> plan;    ///< ITM text rows, image rows, labels
  std::vector<std::pair<std::string, at::Tensor>> params;  ///< by name, before any update
  std::vector<std::pair<std::string, at::Tensor>> grads;   ///< by parameter name
  std::vector<std::pair<std::string, at::Tensor>> update;  ///< AdamW's change (add_updates)
};

/// Builds the model (at::manual_seed(case.seed), c.dtype, dropout 0) and the batch on the CPU,
/// moves both to `device`, runs forward, the joint loss and backward there. `comm` must hold
/// tensors on `device` (a local communicator for the CPU, NCCL for CUDA).
StepResult run_step(const StepCase& c, c10::Device device, dist::Communicator& comm);

/// Sets r.update to the change one AdamW step (lr 1e-3, weight decay 0.01) makes on `device` to
/// `source`'s parameters given `source`'s gradients. Comparing the updates of two devices from the
/// same gradients tests the optimizer itself: AdamW's first step maps even rounding-level
/// gradient differences to lr-sized changes (g / (|g| + eps)).
void add_updates(StepResult& r, const StepResult& source, c10::Device device);

/// One quantity that differs by more than the tolerance: its name and the relative difference
/// max|got - want| / max(max|want|, 1e-6 · the largest |want| of its kind) (exact equality for
/// the ITM rows). The floor keeps gradients that are zero in exact arithmetic (an attention key
/// bias: softmax ignores a shift shared by a row) from comparing rounding noise with itself.
struct Difference {
  std::string name;
  double relative = 0;
};

/// The quantities of `got` that differ from `want` by more than `tol` (relative, per tensor;
/// ITM rows must be equal), and any name present in one result only.
std::vector<Difference> differences(const StepResult& got, const StepResult& want, double tol);

/// The largest relative difference over every loss, gradient and update (0 for equal results).
double max_relative_difference(const StepResult& got, const StepResult& want);

/// "name (value), ..." of up to `n` differences, for failure messages.
std::string describe(const std::vector<Difference>& d, size_t n = 8);

}  // namespace mmaux::testing
