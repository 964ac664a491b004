#pragma once
/// The training objective of one step: L = λ_ce·CE + λ_itc·ITC + λ_itm·ITM on this rank's share
/// of a global batch (METHOD.md §1). The trainer calls it once per micro-batch; the distributed
/// equivalence test calls the same function to show that W ranks equal one process.
///
/// Per step, in order (every collective is called by every rank in the same order):
///   1. encode the batch; CE of the class logits with the global normaliser (loss::cross_entropy;
///      kBatch needs no all-reduce: the global row count is in the batch);
///   2. ITC over the global batch (loss::itc_loss: all-gathers with gradient) when λ_itc > 0, or
///      when ITM is hard (its plan draws from the ITC similarities);
///   3. ITM when λ_itm > 0: random mode pairs rows of the local batch (no collective; a frozen
///      image tower's output is reused); hard mode draws negatives from the global batch
///      (loss::plan_itm_hard), gathers every rank's token ids and pixels without gradient
///      (dist::all_gather_padded) and re-encodes the pairs locally; then loss::itm_loss.
///      Token type ids of the model input, when defined, go with the text rows in both modes;
///      data::Batch carries none today, so to_model_input leaves them undefined (type 0).
///      Region features, boxes and mask (data sets preprocessed with --region-features) go with
///      the image rows, and are gathered with them in hard mode.
/// CPU dropout masks are keyed by global row (model::DropoutRows): with the same generator
/// state on every rank, W ranks draw the masks of one process.

#include <ATen/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>

#include "mmaux/config/loss_options.h"
#include "mmaux/data/batch.h"
#include "mmaux/dist/communicator.h"
#include "mmaux/loss/itm.h"
#include "mmaux/model/multimodal.h"

namespace mmaux {
struct RunConfig;
}

namespace mmaux::train {

/// What the objective is, fixed for a run (from LossOptions and TrainOptions).
struct JointLossOptions {
  LossWeights weights;                  ///< λ_ce, λ_itc, λ_itm (>= 0)
  ItmMode itm_mode = ItmMode::kRandom;  ///< ITM pairs: random (paper) or hard negatives
  CeNorm ce_norm = CeNorm::kBatch;      ///< CE normaliser
  bool clamp_logit_scale = false;       ///< clamp the ITC log scale at ln 100
  double hard_eps = 1e-4;               ///< added to the hard-negative sampling weights
  uint64_t sampling_seed = 0;           ///< ITM draws depend on (seed, step, global row)
  int64_t pad_id = 0;                   ///< token id that pads gathered texts (hard ITM)
  bool bf16_autocast = false;           ///< bf16 autocast of the forward passes (CUDA)
  /// Random ITM draws a row's negative text within its group of this many consecutive rows of
  /// the call's batch; 0 = all of them. The trainer leaves it 0: the group is what one rank
  /// holds of one micro-batch. One process on a global batch sets it to that size to draw the
  /// pairs of W ranks × k micro-batches (the accumulation test).
  int64_t random_itm_group = 0;
};

/// The options of `config` (train.seed samples ITM pairs); `pad_id` is the data set's.
JointLossOptions joint_loss_options(const RunConfig& config, int64_t pad_id);

/// What is trained: the model, the learned ITC log scale (a scalar; its requires_grad decides
/// whether it learns) and the CE class weights ([C] or undefined: all ones), all on `device`.
struct LossModel {
  model::MultimodalModel& model;
  at::Tensor logit_scale;
  at::Tensor class_weights;
  c10::Device device;
};

/// Loss values of one step: this rank's terms (the mean over ranks is the global loss).
struct StepLosses {
  at::Tensor total;                 ///< λ-weighted sum, with its graph (call backward on it)
  double ce = 0, itc = 0, itm = 0;  ///< ce is 0 (not computed) when its weight is 0
  double mlm = 0;                   ///< masked-language modelling (train::pretrain_step only)
  int64_t degenerate = 0;           ///< ITM rows that fell back to uniform sampling
  loss::ItmPlan itm_plan;  ///< the ITM pairs of this rank (undefined tensors when ITM is off)
};

/// The model input of `batch`, on `device`; its region fields (float, float, int64) are filled
/// when the batch has region features, undefined otherwise.
model::ModelInput to_model_input(const data::Batch& batch, c10::Device device);

/// The joint loss of `batch` (this rank's rows, on the CPU; moved to m.device here) at optimizer
/// step `step` (it keys the ITM draws: equal on every rank). Runs the model in its current mode
/// (train or eval). Collective: every rank calls it with its share of the same global batch.
StepLosses joint_loss(const LossModel& m, const data::Batch& batch, int64_t step,
                      const JointLossOptions& options, dist::Communicator& comm);

}  // namespace mmaux::train
