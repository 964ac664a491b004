#pragma once
/// Image-text contrastive loss over the global batch (METHOD.md §1, ITC): each rank computes its
/// b rows against all N = Σ b_r columns, using all_gather_with_grad (backward: sum
/// reduce-scatter). With GradSync's gradient averaging this is exactly the single-process loss
/// ITC = ½ [CE(S, diag) + CE(Sᵀ, diag)] on the global batch, S = exp(s) · V Tᵀ.

#include <ATen/Tensor.h>

#include <cstdint>
#include <vector>

#include "mmaux/dist/communicator.h"

namespace mmaux::loss {

/// ln 100: the optional upper bound of the learned log scale.
constexpr double kMaxLogitScale = 4.605170185988092;

struct ItcOptions {
  /// Clamp the log scale at ln 100 in the forward pass (its gradient is 0 while clamped).
  bool clamp_logit_scale = false;
  /// Row counts of every rank when known (skips one small all-gather); empty = gathered. Only
  /// with one block.
  std::vector<int64_t> counts;
  /// This rank's rows as consecutive blocks of these sizes (Σ = b; empty = one block of b).
  /// Block j of every rank, in rank order, forms block j of the global batch, and the global
  /// batch is the blocks in order: the micro-batches of an accumulated batch
  /// (train::contrastive_accumulation_step), whose rows of one rank are not contiguous.
  std::vector<int64_t> blocks;
};

struct ItcResult {
  /// This rank's term: W/(2N) · [Σ_local rows CE(S_i2t) + Σ_local rows CE(S_t2i)] (= ½ of the
  /// two row means when ranks hold equal counts). The mean over ranks is the global ITC.
  at::Tensor loss;
  /// Detached [b, N]: exp(s) · v_i · t_j for this rank's images i and all texts j (columns in
  /// global row order).
  at::Tensor sim_i2t;
  /// Detached [b, N]: exp(s) · t_i · v_j for this rank's texts i and all images j.
  at::Tensor sim_t2i;
  int64_t row_offset = 0;       ///< global row of this rank's first row
  int64_t global_rows = 0;      ///< N
  std::vector<int64_t> counts;  ///< rows held by every rank (all blocks)
  /// Per block: the global row of this rank's first row of the block, and its rows here
  /// ({row_offset} and {b} with one block).
  std::vector<int64_t> block_offsets, block_rows;
};

/// text, image: [b, d] vectors before L2 normalisation (normalised here), same dtype, on
/// comm.device(); logit_scale: scalar tensor s (learned, initialised to ln(1/0.07)).
/// Collective (per block: two all-gathers forward, two reduce-scatters in backward; one more
/// small all-gather per block for the counts unless given).
ItcResult itc_loss(const at::Tensor& text, const at::Tensor& image, const at::Tensor& logit_scale,
                   dist::Communicator& comm, const ItcOptions& options = {});

}  // namespace mmaux::loss
