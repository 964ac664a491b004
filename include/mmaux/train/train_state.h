#pragma once
/// The trainer's progress as a checkpoint's state.json records it (CheckpointStore adds "schema",
/// "name", "world_size" and "files"):
/// {"step", "epoch", "cursor": {"epoch", "step"}, "config": {option: value text}, "config_hash",
///  "data_fingerprint", "bad_steps", "itm_degenerate_rows", "best_epoch", "best_value",
///  "samples", "mmaux_version", "schedule_horizon", "last_eval_step", "last_eval_epoch",
///  "extensions"}.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "mmaux/config/run_config.h"
#include "mmaux/train/results.h"

namespace mmaux::train {

struct TrainState {
  int64_t step = 0;          ///< optimizer steps done
  int64_t epoch = 0;         ///< the epoch in progress
  int64_t cursor_epoch = 0;  ///< the next batch: its epoch ...
  int64_t cursor_step = 0;   ///< ... and its batch within the epoch (data::Cursor)
  int64_t bad_steps = 0;     ///< non-finite steps skipped so far
  int64_t itm_degenerate_rows = 0;
  int best_epoch = -1;    ///< the epoch of the best model; -1: none yet
  double best_value = 0;  ///< its selection score (higher is better)
  int64_t samples = 0;    ///< training samples seen (timings)
  /// The steps the learning-rate schedule spans (its "total steps"); 0: not recorded (older
  /// checkpoints), then the total of the recorded stopping criteria.
  int64_t schedule_horizon = 0;
  /// The step of the last validation; -1: none. A resumed run that finishes that epoch's last
  /// micro-batches without another step does not validate the same model again.
  int64_t last_eval_step = -1;
  int64_t last_eval_epoch = -1;               ///< the epoch of that validation; -1: none
  std::vector<RunExtension> extensions;       ///< changes of the stopping criteria, in order
  std::map<std::string, std::string> config;  ///< every option: dotted name -> value text
  std::string config_hash;
  std::string data_fingerprint;
  std::string mmaux_version;
};

nlohmann::json to_json(const TrainState& s);
/// Reads state.json's fields; "step" and "cursor" are required, the rest default. Throws
/// DataError naming `origin` on a missing required field or a wrong type.
TrainState train_state_from_json(const nlohmann::json& j, const std::string& origin);

/// SHA-256 (first 16 hex digits) of "name=value\n" over the trajectory options, sorted by name:
/// equal for runs that compute the same thing.
std::string config_hash(const OptionValues& options);

/// The trajectory options whose values differ between `options` (this run) and `stored` (a
/// checkpoint's "config"), as "name (stored -> now)"; "<absent>" for an option the checkpoint
/// does not record, unless this run has it at its default (OptionValue::default_text: an option
/// added after the checkpoint was written, at the value the older build ran with). Stopping
/// criteria (OptionValue::stopping) may differ: a resumed run may extend them. Empty: the run may
/// resume from it.
std::vector<std::string> resume_conflicts(const OptionValues& options,
                                          const std::map<std::string, std::string>& stored);

/// The stopping criteria whose values differ between `options` and `stored`: name -> (stored,
/// now); "<absent>" for one the checkpoint does not record.
std::map<std::string, std::pair<std::string, std::string>> stopping_changes(
    const OptionValues& options, const std::map<std::string, std::string>& stored);

}  // namespace mmaux::train
