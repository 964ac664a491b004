#pragma once
// Private: the state of one training or evaluation run, shared by trainer.cpp (loop,
// checkpoints), objective.cpp (the joint loss) and evaluate.cpp (metrics over a split).

#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mmaux/data/batch.h"
#include "mmaux/data/manifest.h"
#include "mmaux/dist/communicator.h"
#include "mmaux/dist/grad_sync.h"
#include "mmaux/loss/cross_entropy.h"
#include "mmaux/model/multimodal.h"
#include "mmaux/train/metrics.h"
#include "mmaux/train/optimizer.h"
#include "mmaux/train/trainer.h"

namespace mmaux::train {

/// Loss values of one step (this rank's terms; the mean over ranks is the global loss).
struct StepLosses {
  at::Tensor total;  ///< with graph
  double ce = 0, itc = 0, itm = 0;
  int64_t degenerate = 0;  ///< ITM rows that fell back to uniform sampling
};

struct EvalResult {
  Metrics metrics;
  double loss = 0;  ///< mean weighted CE over the split
  std::vector<std::pair<std::string, Metrics>> by_relation;
};

/// One row of predictions.
struct Prediction {
  int64_t sample_index = 0;
  std::string post_id;
  int64_t label = 0;
  int64_t predicted = 0;
  int64_t relation = -1;
  std::vector<float> probs;
};

class Session {
 public:
  explicit Session(const RunConfig& config);

  // objective.cpp
  StepLosses compute_losses(const data::Batch& batch, int64_t step);
  // evaluate.cpp
  EvalResult evaluate(const std::string& split, std::vector<Prediction>* predictions);

  model::ModelInput to_input(const data::Batch& batch) const;
  /// Model tensors and the ITC logit scale, by name.
  dist::NamedTensors trainable_named() const;

  RunConfig config;
  std::shared_ptr<dist::Communicator> comm;
  c10::Device device{c10::kCPU};
  data::Manifest manifest;
  std::shared_ptr<model::MultimodalModel> model;
  at::Tensor logit_scale;    ///< ITC log scale s (learned)
  at::Tensor class_weights;  ///< [C] on device, or undefined
  loss::CeNorm ce_norm = loss::CeNorm::kBatch;
  double w_ce = 1, w_itc = 0, w_itm = 0;
  bool itm_hard = false;
};

/// Copies tensors by name into `named` (no grad); throws DataError naming missing or mis-shaped
/// entries.
void copy_named(const dist::NamedTensors& named, const std::map<std::string, at::Tensor>& from,
                const std::string& what);

}  // namespace mmaux::train
