#pragma once
/// `mmaux train` and `mmaux eval`: data, model, losses and the distributed core tied together.

#include <map>
#include <string>

#include "mmaux/config/data_options.h"
#include "mmaux/config/dist_options.h"
#include "mmaux/config/loss_options.h"
#include "mmaux/config/model_options.h"
#include "mmaux/config/train_options.h"
#include "mmaux/dist/topology.h"

namespace mmaux::train {

/// Everything a run is configured with.
struct RunConfig {
  DataOptions data;
  ModelOptions model;
  LossOptions loss;
  TrainOptions train;
  DistOptions dist;
  std::string config_ini;                            ///< effective configuration (INI text)
  std::map<std::string, std::string> config_values;  ///< dotted option name -> value text
  dist::Topology topology;  ///< this process in the job: dist::init_runtime's result (the CLI's)
};

/// Options that may differ between a run and its resumption (they do not change the result).
bool config_key_may_change_on_resume(const std::string& key);

/// Trains per `config`: epochs with validation, best checkpoint by train.select_metric, the test
/// split scored once with the best model, results.json. Returns kExitOk, or kExitRequeue after
/// writing a resumable checkpoint when SIGTERM/SIGUSR1 reached any rank. Collective (every rank
/// of the job calls it).
int run_training(const RunConfig& config);

struct EvalRequest {
  std::string checkpoint;  ///< a best/ or step checkpoint directory
  std::string split = "test";
  std::string out;  ///< predictions CSV ("" = CHECKPOINT/predictions_<split>.csv)
};

/// Scores the model of a checkpoint on a split, writes the predictions (post_id, label,
/// predicted, one probability per class) as CSV and the metrics as JSON beside it, and prints the
/// metrics. `config` is the checkpoint's configuration (data.dir may be overridden). Collective.
int run_evaluation(const RunConfig& config, const EvalRequest& request);

}  // namespace mmaux::train
