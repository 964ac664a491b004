#pragma once
#include <string>

namespace mmaux {
/// [train] section.
struct TrainOptions {
  std::string out = "runs/run";  ///< run directory: checkpoints, metrics.jsonl, results.json
  unsigned seed = 1;
  int epochs = 3;
  long max_steps = 0;  ///< stop after this many optimizer steps (0 = epochs only)
  double lr = 1e-5;
  double weight_decay = 2.5e-4;
  bool decay_norm_and_bias = false;   ///< paper: true (decay on every parameter)
  std::string schedule = "constant";  ///< constant | linear | cosine
  double warmup = 0;                  ///< warmup steps (>= 1) or fraction of all steps (< 1)
  double clip_norm = 0;               ///< 0 = no clipping
  int accumulate = 1;                 ///< micro-batches per optimizer step
  bool paper = false;                 ///< paper mode: one group, constant lr, decay everywhere
  std::string select_metric = "macro_f1";
  long checkpoint_every = 0;  ///< steps between checkpoints (0 = epoch ends only)
  int keep_last = 2;
  std::string resume = "none";  ///< none | auto | PATH
  int max_bad_steps = 5;        ///< non-finite steps in a row before aborting
  long log_every = 10;
  bool bf16 = false;  ///< bf16 autocast on GPU
  /// Testing aid: from this step on (>= 1), rank 0's loss is made non-finite, to exercise the
  /// skip-and-abort path end to end (0 = off).
  long inject_nonfinite_from = 0;
  std::string device = "auto";  ///< auto | cpu | cuda
};

/// Options of `mmaux eval`.
struct EvalOptions {
  std::string checkpoint;  ///< checkpoint directory
  std::string split = "test";
  std::string out;  ///< predictions CSV ("" = CHECKPOINT/predictions_SPLIT.csv)
};

}  // namespace mmaux
