#pragma once
/// Image-text matching (METHOD.md §1, ITM): which (text, image) pairs the ITM head sees, and its
/// loss. Two plans:
///   - random (paper): every local text is swapped, with probability 0.5, for another text of
///     the same local batch (uniform, not itself); images are never swapped; b pairs;
///   - hard (ALBEF/BLIP): from the gathered similarities, one negative text per local image and
///     one negative image per local text, drawn ∝ softmax(similarity row) + eps with same-post
///     pairs and exact duplicate texts / images masked; b positives + 2b negatives.
/// Draws are a pure function of (seed, step, global row): 1 rank and W ranks holding the same
/// global batch choose the same pairs. All draws of a call are made at once on the device (no
/// host synchronisation per row).
///
/// A plan names rows of the GLOBAL batch. The trainer's joint_loss gathers the token ids / pixels
/// of every rank's rows (all_gather_padded: texts and images may be padded differently on each
/// rank), runs the model's ITM pass on the pairs, and takes itm_loss over the plan's labels.

#include <ATen/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <string>

#include "mmaux/config/loss_options.h"
#include "mmaux/dist/communicator.h"
#include "mmaux/loss/itc.h"

namespace mmaux::loss {

/// kRandom: plan_itm_random; kHard: plan_itm_hard (LossOptions::itm_mode).
using mmaux::ItmMode;

/// Identifies one draw: the training seed and the optimizer step (or any counter that every rank
/// advances identically).
struct SamplingKey {
  uint64_t seed = 0;
  int64_t step = 0;
};

struct ItmPlan {
  at::Tensor text_rows;   ///< int64 [m]: global row whose text forms pair k
  at::Tensor image_rows;  ///< int64 [m]: global row whose image forms pair k
  at::Tensor labels;      ///< int64 [m]: 1 = matched, 0 = not matched
  /// int64 scalar: this rank's draws that fell back to uniform sampling (degenerate rows: batch
  /// of one, every candidate masked, non-finite similarities). A tensor so that reading it is
  /// the caller's choice of when to synchronise.
  at::Tensor degenerate;
};

/// Paper mode: m = b pairs in local row order; image k is row_offset + k; its text is the same
/// row (label 1) or, with probability 0.5, another row of [row_offset, row_offset + b) drawn
/// uniformly (label 0). With b = 1 nothing can be swapped: the pair stays matched and counts as
/// degenerate. Not collective. Tensors on `device`.
ItmPlan plan_itm_random(int64_t local_rows, int64_t row_offset, SamplingKey key,
                        c10::Device device = c10::Device(c10::kCPU));

/// Content keys of this rank's rows (int64 [b] each, on comm.device()). Rows with equal keys are
/// treated as duplicates. `post` is optional (undefined: each row is its own post; give the
/// sample index when a post can appear twice in a global batch).
struct RowKeys {
  at::Tensor text;
  at::Tensor image;
  at::Tensor post;
};

/// Hard mode: m = 3b pairs: [0, b) positives (row g, row g) with label 1; [b, 2b) local image g
/// with a negative text; [2b, 3b) a negative image with local text g; labels 0. A candidate j is
/// masked for row g when j is the same post, has the same text key or the same image key as g.
/// Weights: softmax(sim row) (in float64) + eps on unmasked finite columns. A row whose weights
/// are not all finite, or sum to zero, falls back to uniform over unmasked finite columns; if
/// none remains, uniform over the other rows; with N = 1 the row pairs with itself, labelled 1.
/// sim_i2t / sim_t2i: [b, N] as ItcResult holds them. Collective (gathers the keys).
ItmPlan plan_itm_hard(const at::Tensor& sim_i2t, const at::Tensor& sim_t2i, int64_t row_offset,
                      const RowKeys& keys, SamplingKey key, double eps, dist::Communicator& comm);

/// Same, taking the similarities and the row offset from an ITC result.
ItmPlan plan_itm_hard(const ItcResult& itc, const RowKeys& keys, SamplingKey key, double eps,
                      dist::Communicator& comm);

/// ITM loss: cross entropy of logits [m, 2] against labels with the global normaliser
/// (W · Σ_local / M_global; the local mean when ranks hold equal m). Collective unless
/// `global_pairs` (M) is given.
at::Tensor itm_loss(const at::Tensor& logits, const at::Tensor& labels, dist::Communicator& comm,
                    int64_t global_pairs = -1);

/// A 64-bit content hash per row of any CPU tensor [b, ...] (bytes of each row). Returns int64
/// [b] on the CPU.
at::Tensor row_keys(const at::Tensor& rows);

/// Content keys of texts: hashes only the tokens where attention_mask is 1, so that the same
/// text padded to different lengths (on different ranks) has the same key. CPU int64 [b, L].
at::Tensor text_keys(const at::Tensor& input_ids, const at::Tensor& attention_mask);

/// Content keys of images [b, C, H, W] (CPU): hashes the valid top-left region given by
/// pixel_mask [b, H, W] (undefined: the whole image) and its size.
at::Tensor image_keys(const at::Tensor& pixels, const at::Tensor& pixel_mask);

}  // namespace mmaux::loss
