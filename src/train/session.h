#pragma once
// Private: a built run (communicator, device, data manifest, model, ITC scale, class weights),
// shared by the jobs of train/: the loop (trainer.cpp), checkpoint state (run_checkpoints.cpp),
// best-model promotion (best_model.cpp), scoring a split (score_split.cpp) and `mmaux eval`
// (run_eval.cpp).

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mmaux/config/run_config.h"
#include "mmaux/data/batch.h"
#include "mmaux/data/manifest.h"
#include "mmaux/dist/communicator.h"
#include "mmaux/dist/grad_sync.h"
#include "mmaux/model/multimodal.h"
#include "mmaux/train/joint_loss.h"
#include "mmaux/train/metrics.h"

namespace mmaux::train {

class Session {
 public:
  /// Validates `config` (validate()), then builds everything. `on_communicator`, when given, runs
  /// on every rank right after the communicator is made, before the data and the model are
  /// loaded (the trainer locks its run directory there, so a refused start fails fast).
  /// Collective (the communicator).
  explicit Session(const RunConfig& config,
                   const std::function<void(dist::Communicator&)>& on_communicator = {});

  /// The model, scale and class weights as joint_loss takes them.
  LossModel loss_model() const;
  /// Model tensors, the head's (when there is one) and the ITC logit scale, by name.
  dist::NamedTensors trainable_named() const;
  /// The model's buffers (BatchNorm running statistics), by name; empty for most models.
  dist::NamedTensors buffers_named() const;

  RunConfig config;
  std::shared_ptr<dist::Communicator> comm;
  c10::Device device{c10::kCPU};
  data::Manifest manifest;
  std::shared_ptr<model::MultimodalModel> model;
  at::Tensor logit_scale;    ///< ITC log scale s (learned)
  at::Tensor class_weights;  ///< [C] on device, or undefined
  /// A head the objective adds besides the model (pretraining: the MLM head), on `device`, or
  /// null. Its parameters are trained, synchronised and checkpointed with the model's, named
  /// head_prefix + their name (trainable_named()).
  std::shared_ptr<torch::nn::Module> head;
  std::string head_prefix;
  JointLossOptions objective;
};

/// Throws ConfigError naming `data_dir` when it holds an unlabeled data set (its manifest says
/// "labelled": false): `command` needs labels, such a data set is for `mmaux pretrain`. A missing
/// manifest is left to Session to report. Not collective.
void require_labelled_data(const std::string& data_dir, const std::string& command);

/// "ber-vit-concat: 4.89 M parameters (4.89 M trainable) in 87 tensors": elements, then the
/// tensors that hold them.
std::string parameter_summary(const model::MultimodalModel& model);

/// Copies tensors by name into `named` (no grad); throws DataError naming missing or mis-shaped
/// entries.
void copy_named(const dist::NamedTensors& named, const std::map<std::string, at::Tensor>& from,
                const std::string& what);

}  // namespace mmaux::train
