#pragma once
/// results.json of a run, typed: written once by `mmaux train` (rank 0, at the end), read by
/// `mmaux aggregate`. No libtorch: the launch tools read it too.
///
/// The file: {"mmaux_version", "config": {option: value text}, "trajectory_keys": [options that
/// change the result], "config_hash", "dataset", "data_fingerprint", "model", "preset",
/// "loss_setting", "itm_mode", "seed", "world_size", "best_epoch", "steps", "skipped_steps",
/// "itm_degenerate_rows", "validation": {scores}, "test": {scores, "loss"}, "test_by_relation":
/// {relation: {scores}}, "extensions": [RunExtension], "timings": {"train_s", "test_eval_s",
/// "total_s", "train_samples_per_s"}, "peak_memory_mb"}. Files written before trajectory_keys,
/// data_fingerprint and extensions existed lack them; they read as empty.
///
/// `mmaux pretrain` writes a results.json of its own shape (trainer.cpp, Trainer::finish):
/// "kind": "pretrain", the fields above that apply (no validation/test scores, no best_epoch),
/// "towers", "start" and "final"; `mmaux aggregate` recognises it by "kind" and does not read
/// it as RunResults.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mmaux/train/metrics.h"

namespace mmaux::train {

/// The scores of one split as results.json records them (metrics_to_json, plus the mean loss
/// where it was measured).
struct SplitScores {
  /// Scalars that a file lacks read as NaN (count as 0); per_class and confusion as recorded.
  Metrics metrics;
  /// The names of metrics.per_class, in its order. Read back from a file they are in the file's
  /// (alphabetical) order: the class order of the confusion matrix is not recorded.
  std::vector<std::string> class_names;
  std::optional<double> loss;
};

struct RunTimings {
  double train_s = 0;
  double test_eval_s = 0;
  double total_s = 0;
  double train_samples_per_s = 0;
};

/// A resume that changed the run's stopping criteria (train.max-steps, train.epochs): an
/// extension, or an earlier end. As JSON: {"step", "time", "options": {name: {"from", "to"}},
/// "steps": {"from", "to"}, "schedule", "horizon": {"from", "to"}, "previous_results"}.
struct RunExtension {
  int64_t step = 0;  ///< the step of the checkpoint the run resumed from
  std::string time;  ///< when: UTC, "2024-05-01T12:00:00Z"
  std::map<std::string, std::pair<std::string, std::string>> options;  ///< name -> (from, to)
  int64_t steps_from = 0;  ///< the optimizer steps the run was to make before ...
  int64_t steps_to = 0;    ///< ... and after
  /// How a learning-rate schedule that depends on the number of steps went on, when the remaining
  /// steps' rates would have changed (train.extend-schedule): "keep-horizon" or "rescale"; ""
  /// when the schedule was not affected.
  std::string schedule;
  int64_t horizon_from = 0;      ///< the steps the schedule spanned before ...
  int64_t horizon_to = 0;        ///< ... and after
  std::string previous_results;  ///< where the run's earlier results.json was moved ("" = none)
};

nlohmann::json to_json(const RunExtension& e);
/// Throws DataError naming `what` when a field has the wrong type.
RunExtension run_extension_from_json(const nlohmann::json& j, const std::string& what);

struct RunResults {
  std::string mmaux_version;
  std::map<std::string, std::string> config;  ///< every option: dotted name -> value text
  std::vector<std::string> trajectory_keys;   ///< the options that change the result (sorted)
  std::string config_hash;
  std::string dataset;           ///< the manifest's data set name
  std::string data_fingerprint;  ///< the manifest's fingerprint ("" in older files)
  std::string model, preset, loss_setting, itm_mode;
  std::optional<uint64_t> seed;
  int world_size = 0;
  int best_epoch = -1;
  int64_t steps = 0;
  int64_t skipped_steps = 0;
  int64_t itm_degenerate_rows = 0;
  std::optional<SplitScores> validation;  ///< the best epoch's validation scores
  std::optional<SplitScores> test;        ///< the test split, scored with the best model
  std::map<std::string, SplitScores> test_by_relation;
  std::vector<RunExtension> extensions;  ///< in order; empty for a run never extended
  RunTimings timings;
  double peak_memory_mb = 0;
};

nlohmann::json to_json(const SplitScores& s);
/// Reads a block written by to_json (or metrics_to_json); `what` names it in errors. Throws
/// DataError when it is not an object or a field has the wrong type.
SplitScores split_scores_from_json(const nlohmann::json& j, const std::string& what);

nlohmann::json to_json(const RunResults& r);
/// Throws DataError naming `origin` when `j` is not an object or a field has the wrong type;
/// absent fields keep their defaults.
RunResults run_results_from_json(const nlohmann::json& j, const std::string& origin);

/// Reads and parses `file`. Throws DataError naming the file.
RunResults read_run_results(const std::filesystem::path& file);

}  // namespace mmaux::train
