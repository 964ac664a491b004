#pragma once
#include <string>

#include "mmaux/config/enum_names.h"

namespace mmaux {

/// train.schedule: the learning rate after warmup.
enum class Schedule { kConstant, kLinear, kCosine };
template <>
struct EnumNames<Schedule> {
  static constexpr EnumName<Schedule> table[] = {{Schedule::kConstant, "constant"},
                                                 {Schedule::kLinear, "linear"},
                                                 {Schedule::kCosine, "cosine"}};
};

/// train.extend-schedule: how a resumed run whose stopping criteria changed (train.max-steps,
/// train.epochs) continues a learning-rate schedule that depends on the number of steps (linear,
/// cosine, or a warmup given as a fraction), when the remaining steps' rates would change.
/// kRefuse: stop with an error that names the two ways on; kKeepHorizon: the schedule keeps the
/// number of steps it was planned over (steps past it get its last value); kRescale: from the
/// resume step on it spans the new number of steps, as if the run had been planned that long.
enum class ExtendSchedule { kRefuse, kKeepHorizon, kRescale };
template <>
struct EnumNames<ExtendSchedule> {
  static constexpr EnumName<ExtendSchedule> table[] = {
      {ExtendSchedule::kRefuse, "refuse"},
      {ExtendSchedule::kKeepHorizon, "keep-horizon"},
      {ExtendSchedule::kRescale, "rescale"}};
};

/// train.select-metric: the validation score that picks the best epoch (kLoss: the lowest
/// validation loss).
enum class SelectMetric { kMacroF1, kWeightedF1, kAccuracy, kLoss };
template <>
struct EnumNames<SelectMetric> {
  static constexpr EnumName<SelectMetric> table[] = {{SelectMetric::kMacroF1, "macro_f1"},
                                                     {SelectMetric::kWeightedF1, "weighted_f1"},
                                                     {SelectMetric::kAccuracy, "accuracy"},
                                                     {SelectMetric::kLoss, "loss"}};
};

/// train.device. kAuto: CUDA when a GPU and a CUDA libtorch are present, else the CPU.
enum class DeviceChoice { kAuto, kCpu, kCuda };
template <>
struct EnumNames<DeviceChoice> {
  static constexpr EnumName<DeviceChoice> table[] = {
      {DeviceChoice::kAuto, "auto"}, {DeviceChoice::kCpu, "cpu"}, {DeviceChoice::kCuda, "cuda"}};
};

/// train.dtype: the floating-point type of the model, its gradients and the optimizer state.
/// kFloat64 is for verification against another implementation (bench/model/parity.sh): the
/// rounding of two implementations then differs by ~1e-16 instead of ~1e-7 per operation.
enum class TrainDtype { kFloat32, kFloat64 };
template <>
struct EnumNames<TrainDtype> {
  static constexpr EnumName<TrainDtype> table[] = {{TrainDtype::kFloat32, "float32"},
                                                   {TrainDtype::kFloat64, "float64"}};
};

/// train.resume: "none", "auto" (the newest valid checkpoint under train.out) or a checkpoint
/// directory.
struct ResumeFrom {
  enum class Mode { kNone, kAuto, kPath };
  Mode mode = Mode::kNone;
  std::string path;  ///< kPath only

  /// "none" | "auto" | any other text: a path. Throws ConfigError for "".
  static ResumeFrom parse(const std::string& text);
  /// The option text parse() reads back.
  std::string text() const;
};

/// [train] section.
struct TrainOptions {
  std::string out = "runs/run";  ///< run directory: checkpoints, metrics.jsonl, results.json
  unsigned seed = 1;
  int epochs = 3;
  long max_steps = 0;  ///< stop after this many optimizer steps (0 = epochs only)
  double lr = 1e-5;
  double weight_decay = 2.5e-4;
  bool decay_norm_and_bias = false;         ///< paper: true (decay on every parameter)
  Schedule schedule = Schedule::kConstant;  ///< constant | linear | cosine
  double warmup = 0;                        ///< warmup steps (>= 1) or fraction of all steps (< 1)
  double clip_norm = 0;                     ///< 0 = no clipping
  int accumulate = 1;                       ///< micro-batches per optimizer step
  /// With accumulate > 1: the objective of the whole accumulated batch (ITC negatives and hard
  /// ITM negatives from all micro-batches, global normalisers; train::
  /// contrastive_accumulation_step); false: each micro-batch's own objective, averaged.
  bool contrastive_accumulation = true;
  bool paper = false;  ///< paper mode: one group, constant lr, decay everywhere
  SelectMetric select_metric = SelectMetric::kMacroF1;
  long checkpoint_every = 0;  ///< steps between checkpoints (0 = epoch ends only)
  int keep_last = 2;
  ResumeFrom resume;                                         ///< none | auto | PATH
  ExtendSchedule extend_schedule = ExtendSchedule::kRefuse;  ///< refuse | keep-horizon | rescale
  int max_bad_steps = 5;  ///< non-finite steps in a row before aborting
  long log_every = 10;
  bool bf16 = false;  ///< bf16 autocast on GPU
  /// Testing aid: from this step on (>= 1), rank 0's loss is made non-finite, to exercise the
  /// skip-and-abort path end to end (0 = off).
  long inject_nonfinite_from = 0;
  DeviceChoice device = DeviceChoice::kAuto;  ///< auto | cpu | cuda
  TrainDtype dtype = TrainDtype::kFloat32;    ///< float32 | float64 (verification)
  /// When not empty: rank 0 writes the initial weights there before the first step (the model
  /// directory of save_pretrained, plus itc.safetensors with the ITC logit scale), so that another
  /// implementation can start from the same point (bench/model/parity.sh).
  std::string save_initial;
};

/// Options of `mmaux eval`.
struct EvalOptions {
  std::string checkpoint;      ///< checkpoint directory
  std::string split = "test";  ///< a split of the data set (train | validation | test)
  std::string out;             ///< predictions CSV ("" = CHECKPOINT/predictions_SPLIT.csv)
};

}  // namespace mmaux
