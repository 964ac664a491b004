#include "mmaux/train/joint_loss.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "joint_loss_parts.h"
#include "mmaux/config/run_config.h"
#include "mmaux/loss/cross_entropy.h"
#include "mmaux/loss/itc.h"
#include "mmaux/loss/itm.h"
#include "mmaux/model/dropout_rows.h"
#include "mmaux/train/autocast.h"
#include "train/model_rows.h"

namespace mmaux::train {
namespace detail {

loss::ItmPlan random_itm_plan(int64_t rows, int64_t offset, loss::SamplingKey key, int64_t group,
                              c10::Device device) {
  if (group <= 0 || group >= rows) return loss::plan_itm_random(rows, offset, key, device);
  std::vector<at::Tensor> text, image, labels, degenerate;
  for (int64_t first = 0; first < rows; first += group) {
    loss::ItmPlan p =
        loss::plan_itm_random(std::min(group, rows - first), offset + first, key, device);
    text.push_back(p.text_rows);
    image.push_back(p.image_rows);
    labels.push_back(p.labels);
    degenerate.push_back(p.degenerate);
  }
  return loss::ItmPlan{at::cat(text), at::cat(image), at::cat(labels), at::stack(degenerate).sum()};
}

std::vector<int64_t> itm_pair_rows(bool hard, int64_t rows, int64_t offset, int64_t global_rows) {
  std::vector<int64_t> out = model::DropoutRows::range(offset, rows);
  if (!hard) return out;
  for (int64_t part = 1; part < 3; ++part) {
    for (int64_t k = 0; k < rows; ++k) out.push_back(part * global_rows + offset + k);
  }
  return out;
}

}  // namespace detail

namespace {

using detail::AutocastScope;

// Step 3: the ITM term (its plan, the pairs' logits, the loss).
void add_itm(StepLosses& out, const LossModel& m, const data::Batch& batch,
             const model::ModelInput& input, const model::Encoded& enc,
             const std::optional<loss::ItcResult>& itc, loss::SamplingKey key,
             const JointLossOptions& o, dist::Communicator& comm) {
  const bool hard = o.itm_mode == ItmMode::kHard;
  loss::ItmPlan plan;
  at::Tensor itm_logits;
  model::DropoutRows rows(
      detail::itm_pair_rows(hard, batch.size(), batch.row_offset, batch.global_batch_size));
  if (!hard) {
    plan =
        detail::random_itm_plan(batch.size(), batch.row_offset, key, o.random_itm_group, m.device);
    // Images are never swapped in random mode: a frozen image tower's output is reusable.
    itm_logits = m.model.itm_logits(select_pairs(input, plan, batch.row_offset), enc.image_cache);
  } else {
    loss::RowKeys keys{loss::text_keys(batch.input_ids, batch.attention_mask).to(m.device),
                       loss::image_keys(batch.pixels, batch.pixel_mask).to(m.device),
                       batch.sample_index.to(m.device)};
    plan = loss::plan_itm_hard(*itc, keys, key, o.hard_eps, comm);
    // Negatives from other ranks arrive as token ids and pixels and are re-encoded here.
    model::ModelInput global = gather_rows(input, comm, o.pad_id);
    itm_logits = m.model.itm_logits(select_pairs(global, plan, 0), at::Tensor());
  }
  int64_t global_pairs = (hard ? 3 : 1) * batch.global_batch_size;
  at::Tensor itm = loss::itm_loss(itm_logits, plan.labels.to(m.device), comm, global_pairs);
  out.total = out.total + itm * o.weights.itm;
  out.itm = itm.item<double>();
  out.degenerate = plan.degenerate.item<int64_t>();
  out.itm_plan = std::move(plan);
}

}  // namespace

model::ModelInput to_model_input(const data::Batch& b, c10::Device device) {
  model::ModelInput in{b.input_ids.to(device), b.attention_mask.to(device), b.pixels.to(device),
                       b.pixel_mask.to(device)};
  if (b.region_features.defined()) {
    in.region_features = b.region_features.to(device, at::kFloat);
    in.region_boxes = b.region_boxes.to(device, at::kFloat);
    in.region_mask = b.region_mask.to(device, at::kLong);
  }
  return in;
}

JointLossOptions joint_loss_options(const RunConfig& config, int64_t pad_id) {
  JointLossOptions o;
  o.weights = loss_weights(config.loss);
  o.itm_mode = config.loss.itm_mode;
  o.ce_norm = config.loss.ce_norm;
  o.clamp_logit_scale = config.loss.clamp_logit_scale;
  o.hard_eps = config.loss.hard_eps;
  o.sampling_seed = config.train.seed;
  o.pad_id = pad_id;
  o.bf16_autocast = config.train.bf16;
  return o;
}

StepLosses joint_loss(const LossModel& m, const data::Batch& batch, int64_t step,
                      const JointLossOptions& o, dist::Communicator& comm) {
  StepLosses out;
  AutocastScope autocast(o.bf16_autocast && m.device.is_cuda());
  // 1. CE.
  model::ModelInput input = to_model_input(batch, m.device);
  input.need_itc = o.weights.itc > 0 || (o.weights.itm > 0 && o.itm_mode == ItmMode::kHard);
  model::Encoded enc;
  at::Tensor logits;
  {  // Dropout masks keyed by global row: W ranks draw what one process draws.
    model::DropoutRows rows(model::DropoutRows::range(batch.row_offset, batch.size()));
    enc = m.model.encode(input);
    logits = m.model.classify(enc.fused);
  }
  // CE weighted 0 (pretraining): the labels are not read (they may be absent, -1); the zero
  // term keeps the classifier's gradients defined (zeros) as a zero-weighted CE did.
  out.total = logits.sum() * 0.0;
  if (o.weights.ce > 0) {
    at::Tensor labels = batch.labels.to(m.device);
    at::Tensor ce = loss::cross_entropy(logits, labels, m.class_weights, o.ce_norm, comm,
                                        o.ce_norm == CeNorm::kBatch ? batch.global_batch_size : -1);
    out.total = ce * o.weights.ce;
    out.ce = ce.item<double>();
  }
  if (o.weights.itc <= 0 && o.weights.itm <= 0) return out;

  // 2. ITC (also the similarities of hard ITM).
  loss::SamplingKey key{o.sampling_seed, step};
  std::optional<loss::ItcResult> itc;
  if (input.need_itc) {
    loss::ItcOptions opts;
    opts.clamp_logit_scale = o.clamp_logit_scale;
    itc = loss::itc_loss(enc.itc_text, enc.itc_image, m.logit_scale, comm, opts);
    if (o.weights.itc > 0) {
      out.total = out.total + itc->loss * o.weights.itc;
      out.itc = itc->loss.item<double>();
    }
  }
  // 3. ITM.
  if (o.weights.itm > 0) add_itm(out, m, batch, input, enc, itc, key, o, comm);
  return out;
}

}  // namespace mmaux::train
