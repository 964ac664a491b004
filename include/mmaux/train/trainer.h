#pragma once
/// `mmaux train` and `mmaux eval`: data, model, losses and the distributed core tied together.

#include <string>

#include "mmaux/config/run_config.h"

namespace mmaux::train {

/// Trains per `config` (validate()d first): epochs with validation, best checkpoint by
/// train.select_metric, the test split scored once with the best model, results.json. Returns
/// kExitOk, or kExitRequeue after writing a resumable checkpoint when SIGTERM/SIGUSR1 reached any
/// rank. Collective (every rank of the job calls it).
int run_training(const RunConfig& config);

/// Whether the model is in training mode (dropout on) while it trains in epoch `epoch` (0-based).
/// True, except in paper mode (train.paper) for vilt and lxmert from the second epoch on. This
/// reproduces the reference code (models/mm_early.py): it calls model.train() once, before the
/// epoch loop, and model.eval() after every epoch without switching back, so its LXMERT and
/// ViLT train with all dropout off from epoch 2; its MMBT and Ber-ViT scripts call train() inside
/// their loops and are unaffected. The trainer applies it at the start of every epoch (so a
/// resumed run gets it too) and records it as "dropout" in metrics.jsonl's epoch records.
bool trains_with_dropout(const RunConfig& config, int64_t epoch);

struct EvalRequest {
  std::string checkpoint;  ///< a best/ or step checkpoint directory
  std::string split = "test";
  std::string out;  ///< predictions CSV ("" = CHECKPOINT/predictions_<split>.csv)
};

/// Scores the model of a checkpoint on a split, writes the predictions (post_id, label,
/// predicted, one probability per class) as CSV and the metrics as JSON beside it, and prints the
/// metrics. `config` is the checkpoint's configuration (data.dir may be overridden; validate()d
/// first). Collective.
int run_evaluation(const RunConfig& config, const EvalRequest& request);

}  // namespace mmaux::train
