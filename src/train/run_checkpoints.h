#pragma once
// Private: a run's full state through CheckpointStore: the model and the ITC scale, the
// optimizer, every rank's RNG state and the TrainState (state.json).

#include <string>

#include "mmaux/train/checkpoint.h"
#include "mmaux/train/optimizer.h"
#include "mmaux/train/train_state.h"
#include "session.h"

namespace mmaux::train {

class RunCheckpoints {
 public:
  /// Checkpoints under train.out/checkpoints, keeping train.keep-last step checkpoints.
  RunCheckpoints(Session& session, AdamW& optimizer);

  /// The checkpoint directory train.resume names: "" for none; for auto the newest valid one
  /// that rank 0 finds (broadcast, so every rank loads the same). Collective.
  std::string resume_dir();

  /// Loads `dir` into the model, the ITC scale, the optimizer and this rank's RNG and returns
  /// its TrainState. Throws ConfigError when a trajectory option or the data differ from the
  /// checkpoint's, DataError when it is invalid. Not collective.
  TrainState restore(const std::string& dir);

  /// Writes checkpoint `name` (step-NNNNNNNN) of `state`, recording this run's configuration,
  /// its hash, the data's fingerprint and the version with it. Collective.
  void save(const std::string& name, const TrainState& state);

  const CheckpointStore& store() const { return store_; }

 private:
  Session& s_;
  AdamW& opt_;
  CheckpointStore store_;
};

}  // namespace mmaux::train
