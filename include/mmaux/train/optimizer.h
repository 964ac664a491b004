#pragma once
/// AdamW with parameter groups and the learning-rate schedules of the trainer.
///
/// The update is PyTorch's torch.optim.AdamW (decoupled weight decay, bias-corrected moments),
/// written out here so that every piece of state is a named tensor that a checkpoint stores and
/// restores exactly (bit-identical resume).

#include <ATen/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mmaux/config/train_options.h"

namespace mmaux::train {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

struct ParamGroup {
  std::string name;  ///< "decay" / "no_decay"
  double weight_decay = 0;
  std::vector<std::string> names;
  std::vector<at::Tensor> params;
};

class AdamW {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options = {});

  /// Per embedding table (by parameter name): 1 for rows whose gradient may be non-zero, 0 for
  /// rows whose gradient is exactly zero (GradSync::row_masks()).
  using RowHints = std::map<std::string, std::vector<uint8_t>>;

  /// One update with learning rate `lr`; parameters whose grad is undefined are left alone.
  /// `hints` spare embedding tables the scan for zero gradient rows; results are the same.
  void step(double lr, const RowHints* hints = nullptr);
  void zero_grad();

  const std::vector<ParamGroup>& groups() const { return groups_; }
  /// All optimizer state as named tensors ("<param>.exp_avg", "<param>.exp_avg_sq",
  /// "<param>.step"), for checkpoints.
  std::map<std::string, at::Tensor> state() const;
  /// Restores state(); throws DataError naming a missing or mis-shaped entry.
  void load_state(const std::map<std::string, at::Tensor>& state);

 private:
  struct Slot {
    at::Tensor exp_avg, exp_avg_sq;
    int64_t step = 0;
    /// Embedding tables only: rows whose moments may be non-zero. A row with zero moments and a
    /// zero gradient keeps zero moments and its update is the decay alone, so such rows skip
    /// the moment arithmetic (and its memory traffic) with bit-identical results.
    std::vector<uint8_t> active_rows;
  };
  void mark_active_rows(Slot& slot) const;
  std::vector<ParamGroup> groups_;
  AdamWOptions options_;
  std::map<std::string, Slot> slots_;
};

/// Splits named trainable parameters into groups. paper: one group, decay on every parameter.
/// Otherwise: no decay on biases, LayerNorm weights and other 1-D tensors (and scalars such as
/// the ITC logit scale).
std::vector<ParamGroup> make_param_groups(
    const std::vector<std::pair<std::string, at::Tensor>>& named, double weight_decay,
    bool decay_everything);

/// Learning rate at optimizer step `step` (0-based) of `total_steps`. Warmup: `warmup` steps when
/// >= 1, else that fraction of total_steps; lr rises linearly as lr * step / warmup (Hugging Face
/// convention, lr 0 at step 0). After warmup: constant, linear decay to 0 at total_steps, or
/// cosine decay to 0.
double scheduled_lr(Schedule schedule, double lr, double warmup, int64_t step, int64_t total_steps);

}  // namespace mmaux::train
