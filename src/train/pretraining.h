#pragma once
// Private: what `mmaux pretrain` changes in the trainer's loop (trainer.cpp): the MLM head (the
// session's head, so the optimizer, gradient synchronisation and checkpoints carry it), the
// optimizer step's passes (train::pretrain_step), the epoch's validation (ITC over the whole
// validation split, retrieval recall) and RUN/towers.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mmaux/model/mlm_head.h"
#include "mmaux/train/pretrain.h"
#include "mmaux/train/train_state.h"
#include "session.h"

namespace mmaux::train {

class Pretraining {
 public:
  /// Builds the MLM head on the session's text tower (seeded by train.seed, the same on every
  /// rank; loaded from model.dir's cls.predictions.* when it has them) and sets it as the
  /// session's head; reads [MASK] from the tokenizer preprocessing used (the manifest names its
  /// model directory). Call before the optimizer is made. Not collective.
  explicit Pretraining(Session& session);

  /// One optimizer step's passes (train::pretrain_step); adds its terms to the epoch's means.
  /// Collective.
  AccumulatedStep step(const std::vector<data::Batch>& micro, int64_t step,
                       const AccumulationHooks& hooks);

  /// The epoch's training means and validation figures into `record` (and the log), then
  /// RUN/towers written (rank 0). Collective.
  void end_of_epoch(const TrainState& state, nlohmann::json& record);

  /// Before the first step of a fresh run: the validation figures of the starting towers (ITC
  /// over the whole split, retrieval recall; logged as epoch 0), appended to `metrics_file` as a
  /// {"kind": "start"} record by rank 0: what the epochs' figures compare with. Collective.
  void validate_at_start(const std::string& metrics_file);

  /// What results.json of a finished pretraining run adds: {"start": the "start" record's
  /// validation, "final": the last "epoch" record (epoch, step, train, validation)}, read from
  /// `metrics_file` (a line that does not parse, as a killed run can leave, is passed over; a
  /// record that is missing is null). Not collective.
  static nlohmann::json summary(const std::string& metrics_file);

  /// Whether StepLosses::mlm is a term of the objective (log lines).
  bool has_mlm() const { return mlm_.weight > 0; }

 private:
  void write_towers() const;
  nlohmann::json training_means();
  nlohmann::json validation(int64_t epoch);

  Session& s_;
  std::shared_ptr<model::MlmHead> head_;
  MlmObjective mlm_;
  std::string tokenizer_dir_;
  std::vector<double> sums_ = std::vector<double>(3, 0.0);  // itc, itm, mlm since the epoch began
  int64_t steps_ = 0;
};

}  // namespace mmaux::train
