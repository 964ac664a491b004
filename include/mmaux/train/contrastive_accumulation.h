#pragma once
/// Gradient accumulation that keeps the objective of the whole accumulated batch: k micro-batches
/// on each of W ranks train exactly like one process on the global batch of all of them, also
/// for the terms that couple rows (ITC's negatives, hard ITM's mined negatives). This is the
/// gradient-cache method (Gao et al. 2021, "Scaling Deep Contrastive Learning Batch Size under
/// Memory Limited Setup"): the contrastive loss depends on the encoders only through the ITC
/// vectors, so its gradient with respect to those vectors, computed once over the full set, can
/// be pushed through each micro-batch's encoder separately.
///
/// One step, in order (every collective is called by every rank in the same order):
///   1. (when the objective is contrastive: λ_itc > 0 or hard ITM) the ITC vectors of every
///      micro-batch, encoded without gradient, under the dropout masks the second pass replays;
///   2. ITC over the whole set (loss::itc_loss with one block per micro-batch: gathered across
///      ranks with gradient, negatives = every rank's every micro-batch) and its backward with
///      respect to the cached vectors and the logit scale: the cached gradients. Hard ITM: the
///      negatives are drawn from the full similarity matrix (loss::plan_itm_hard_gathered),
///      and every rank's inputs of every micro-batch (token ids, token type ids when defined,
///      masks, pixels) are gathered (no gradient) into a table on the host;
///   3. per micro-batch: the encoder again, with gradient and the same masks; CE with the
///      normaliser of the whole accumulated batch; the surrogate Σ ⟨cached gradient, vector⟩
///      for ITC; its ITM pairs (random: within the micro-batch; hard: its anchors' pairs, the
///      negatives' inputs taken from the table) with the normaliser of all pairs; backward. The
///      logit scale gets its cached gradient once, in the last micro-batch's backward.
///
/// Without a contrastive part step 1-2 are skipped: each micro-batch runs once, with the global
/// normalisers and the draws of its global rows.
///
/// What "the same as one process" means: the global batch is the micro-batches in order, each
/// as its ranks hold it (rank order), and global row indices count through it; ITM draws and CPU
/// dropout masks are functions of (seed, step, global row) (model::DropoutRows). Random ITM
/// draws a row's negative text among the rows one rank holds of one micro-batch, as W ranks
/// without accumulation draw among their local rows; one process equals it when it draws in
/// groups of that size (JointLossOptions::random_itm_group). On the CPU, with the same
/// generator state on every rank, the step equals joint_loss on the global batch in one
/// process up to rounding (tests/dist/test_contrastive_accumulation.cpp).
///
/// Memory beyond a plain micro-batch step: the cached vectors and their gradients (2 · k·b · d
/// per rank), the similarity matrices of step 2 (2 · k·b × N), the gathered vectors (2 · N · d);
/// hard ITM adds the token ids and pixels of all N rows on the host (N · 3·H·W floats) while
/// each micro-batch's ITM pass stays 3·b pairs. Cost: one extra encoder forward without
/// gradient per micro-batch (when contrastive).
///
/// Reusable by any command that trains with this objective (fine-tuning: the trainer; a
/// pretraining command can call it with CE weighted 0).

#include <ATen/Tensor.h>

#include <functional>
#include <vector>

#include "mmaux/data/batch.h"
#include "mmaux/dist/communicator.h"
#include "mmaux/loss/itm.h"
#include "mmaux/train/joint_loss.h"

namespace mmaux::train {

/// Whether micro-batches are coupled by the objective (λ_itc > 0, or hard ITM with λ_itm > 0):
/// then the step runs the extra encoder pass without gradient.
bool is_contrastive(const JointLossOptions& options);

struct AccumulationHooks {
  /// Called before micro-batch j's backward pass (j < count) with its loss term, which it may
  /// change (the trainer turns gradient synchronisation on for the last one; its fault
  /// injection multiplies the term by NaN).
  std::function<void(int j, int count, at::Tensor& term)> before_backward;
};

struct AccumulatedStep {
  /// This rank's terms over the whole accumulated batch (the mean over ranks is the global
  /// loss); total is detached: the backward passes are done. total = Σ of the terms passed to
  /// the backward passes (a NaN injected by a hook shows in it).
  StepLosses losses;
  /// Per micro-batch: its ITM pairs (global rows of the accumulated batch).
  std::vector<loss::ItmPlan> itm_plans;
};

/// One optimizer step's forward and backward passes over `micro` (this rank's share of each
/// micro-batch, in order, on the CPU, as the loader gives them: global_batch_size and
/// row_offset of the micro-batch) at optimizer step `step`. Accumulates into .grad of the model
/// parameters and of m.logit_scale; runs the model in its current mode. Collective: every rank
/// calls it with its share of the same micro-batches.
AccumulatedStep contrastive_accumulation_step(const LossModel& m,
                                              const std::vector<data::Batch>& micro, int64_t step,
                                              const JointLossOptions& options,
                                              dist::Communicator& comm,
                                              const AccumulationHooks& hooks = {});

}  // namespace mmaux::train
