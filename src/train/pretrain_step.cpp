// Masked-language modelling and the pretraining step (include/mmaux/train/pretrain.h).
#include <ATen/ATen.h>

#include <algorithm>

#include "joint_loss_parts.h"
#include "mmaux/core/error.h"
#include "mmaux/core/hash.h"
#include "mmaux/model/dropout_rows.h"
#include "mmaux/model/dual_stream.h"
#include "mmaux/train/pretrain.h"

namespace mmaux::train {
namespace {

constexpr int64_t kIgnore = -100;  // transformers' ignore index for unselected positions

// The rows of the accumulated global batch that micro-batch j's rows of this rank are.
std::vector<std::vector<int64_t>> global_rows_of(const std::vector<data::Batch>& micro) {
  std::vector<std::vector<int64_t>> out;
  int64_t before = 0;
  for (const data::Batch& b : micro) {
    out.push_back(model::DropoutRows::range(before + b.row_offset, b.size()));
    before += b.global_batch_size;
  }
  return out;
}

model::TextEncoder& text_tower(model::MultimodalModel& m) {
  auto* dual = dynamic_cast<model::DualStreamModel*>(&m);
  MMAUX_CHECK_CONFIG(dual != nullptr,
                     "masked-language modelling needs a dual-stream model (ber-vit-concat, "
                     "ber-vit-att); this model is {}",
                     name_of(m.kind()));
  return dual->text();
}

// Σ over this rank's selected tokens of micro-batch j of the cross entropy, scaled by W / N (N:
// the selected tokens of every rank's every micro-batch), so that the ranks' average gradient is
// that of the mean over all N.
at::Tensor mlm_term(const LossModel& m, const model::MlmHead& head, const data::Batch& b,
                    const MaskedText& masked, const std::vector<int64_t>& rows, double total,
                    int world_size, bool bf16) {
  AutocastScope autocast(bf16 && m.device.is_cuda());
  model::DropoutRows keyed(rows);
  model::EncoderOutput t =
      text_tower(m.model).forward(masked.input_ids.to(m.device), b.attention_mask.to(m.device));
  at::Tensor labels = masked.labels.to(m.device).reshape({-1});
  at::Tensor where = labels.ne(kIgnore).nonzero().squeeze(1);
  at::Tensor hidden = t.last_hidden_state.reshape({-1, t.last_hidden_state.size(2)});
  at::Tensor logits = head.forward(hidden.index_select(0, where));
  // Low-precision (bf16 autocast) logits go up to float32 for the softmax; float32 and float64
  // stay as they are (a float32 round trip would cost float64 verification runs their precision).
  if (logits.scalar_type() != at::kDouble) logits = logits.to(at::kFloat);
  at::Tensor nll =
      at::cross_entropy_loss(logits, labels.index_select(0, where), {}, at::Reduction::Sum);
  return nll * (static_cast<double>(world_size) / total);
}

}  // namespace

MaskedText mask_tokens(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                       const std::vector<int64_t>& global_rows, int64_t step,
                       const MlmMasking& masking) {
  MMAUX_CHECK_CONFIG(masking.mask_id >= 0,
                     "masked-language modelling needs a [MASK] token, but the tokenizer's "
                     "vocabulary has none; use a BERT vocabulary with [MASK] or --pretrain.mlm 0");
  MMAUX_CHECK(input_ids.dim() == 2 && attention_mask.sizes() == input_ids.sizes() &&
                  static_cast<int64_t>(global_rows.size()) == input_ids.size(0),
              "mask_tokens: ids, mask [b, L] and b global rows expected");
  MaskedText out;
  out.input_ids = input_ids.to(at::kCPU).to(at::kLong).contiguous().clone();
  out.labels = at::full_like(out.input_ids, kIgnore);
  at::Tensor mask = attention_mask.to(at::kCPU).to(at::kLong).contiguous();
  std::vector<int64_t> special = masking.special_ids;
  std::sort(special.begin(), special.end());
  auto ids = out.input_ids.accessor<int64_t, 2>();
  auto labels = out.labels.accessor<int64_t, 2>();
  auto real = mask.accessor<int64_t, 2>();
  const uint64_t base = mix_seed(masking.seed, static_cast<uint64_t>(step), 0x4d4c4d);  // "MLM"
  for (int64_t i = 0; i < ids.size(0); ++i) {
    const uint64_t row = hash_combine(base, static_cast<uint64_t>(global_rows[i]));
    for (int64_t p = 0; p < ids.size(1); ++p) {
      const int64_t id = ids[i][p];
      if (real[i][p] == 0 || std::binary_search(special.begin(), special.end(), id)) continue;
      SplitMix64 draw(hash_combine(row, static_cast<uint64_t>(p)));
      if (draw.uniform() >= masking.prob) continue;
      labels[i][p] = id;
      ++out.selected;
      const double how = draw.uniform();
      if (how < 0.8) {
        ids[i][p] = masking.mask_id;
      } else if (how < 0.9) {
        ids[i][p] = static_cast<int64_t>(draw.below(static_cast<uint64_t>(masking.vocab_size)));
      }
    }
  }
  return out;
}

AccumulatedStep pretrain_step(const LossModel& m, const model::MlmHead& head,
                              const std::vector<data::Batch>& micro, int64_t step,
                              const JointLossOptions& o, const MlmObjective& mlm,
                              dist::Communicator& comm, const AccumulationHooks& hooks) {
  MMAUX_CHECK(o.weights.ce == 0, "pretrain_step: the CE weight must be 0, got {}", o.weights.ce);
  const std::vector<std::vector<int64_t>> rows = global_rows_of(micro);
  std::vector<MaskedText> masked;
  double total = 0;
  if (mlm.weight > 0) {
    double local = 0;
    for (size_t j = 0; j < micro.size(); ++j) {
      masked.push_back(
          mask_tokens(micro[j].input_ids, micro[j].attention_mask, rows[j], step, mlm.masking));
      local += static_cast<double>(masked.back().selected);
    }
    at::Tensor n = at::full({1}, local, at::TensorOptions(at::kDouble).device(comm.device()));
    comm.all_reduce(n, dist::ReduceOp::kSum);
    total = n.cpu().item<double>();
  }
  double mlm_sum = 0;
  AccumulationHooks with_mlm;
  with_mlm.before_backward = [&](int j, int count, at::Tensor& term) {
    if (total > 0) {
      const auto k = static_cast<size_t>(j);
      at::Tensor t = mlm_term(m, head, micro[k], masked[k], rows[k], total, comm.world_size(),
                              o.bf16_autocast);
      mlm_sum += t.item<double>();
      term = term + t * mlm.weight;
    }
    if (hooks.before_backward) hooks.before_backward(j, count, term);
  };
  AccumulatedStep out = contrastive_accumulation_step(m, micro, step, o, comm, with_mlm);
  out.losses.mlm = mlm_sum;
  return out;
}

}  // namespace mmaux::train
