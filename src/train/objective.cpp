// The joint loss L = λ_ce·CE + λ_itc·ITC + λ_itm·ITM of one step (METHOD.md §1).
#include <ATen/ATen.h>

#include "mmaux/dist/all_gather.h"
#include "mmaux/loss/itc.h"
#include "mmaux/loss/itm.h"
#include "mmaux/train/autocast.h"
#include "session.h"

namespace mmaux::train {
namespace {

// The ITM pairs of a plan as model input: rows of the local batch (random mode) or of the
// gathered global batch (hard mode).
model::ModelInput select_pairs(const model::ModelInput& rows, const loss::ItmPlan& plan,
                               int64_t offset) {
  at::Tensor t = plan.text_rows - offset, v = plan.image_rows - offset;
  return model::ModelInput{rows.input_ids.index_select(0, t),
                           rows.attention_mask.index_select(0, t), rows.pixels.index_select(0, v),
                           rows.pixel_mask.index_select(0, v)};
}

// Every rank's rows of the batch (no gradient), padded to the largest size over ranks: token ids
// with the pad id (masked anyway), variable-size images with zeros and a zero pixel mask.
model::ModelInput gather_rows(const model::ModelInput& local, dist::Communicator& comm,
                              int64_t pad_id) {
  return model::ModelInput{
      dist::all_gather_padded(local.input_ids, comm, static_cast<double>(pad_id)),
      dist::all_gather_padded(local.attention_mask, comm, 0),
      dist::all_gather_padded(local.pixels, comm, 0),
      dist::all_gather_padded(local.pixel_mask, comm, 0)};
}

}  // namespace

StepLosses Session::compute_losses(const data::Batch& batch, int64_t step) {
  StepLosses out;
  AutocastScope autocast(config.train.bf16 && device.is_cuda());
  model::ModelInput input = to_input(batch);
  model::Encoded enc = model->encode(input);
  at::Tensor labels = batch.labels.to(device);
  at::Tensor logits = model->classify(enc.fused);
  at::Tensor ce =
      loss::cross_entropy(logits, labels, class_weights, ce_norm, *comm,
                          ce_norm == loss::CeNorm::kBatch ? batch.global_batch_size : -1);
  out.total = ce * w_ce;
  out.ce = ce.item<double>();
  if (w_itc <= 0 && w_itm <= 0) return out;

  loss::SamplingKey key{static_cast<uint64_t>(config.train.seed), step};
  std::optional<loss::ItcResult> itc;
  if (w_itc > 0 || itm_hard) {
    loss::ItcOptions opts;
    opts.clamp_logit_scale = config.loss.clamp_logit_scale;
    itc = loss::itc_loss(enc.itc_text, enc.itc_image, logit_scale, *comm, opts);
    if (w_itc > 0) {
      out.total = out.total + itc->loss * w_itc;
      out.itc = itc->loss.item<double>();
    }
  }
  if (w_itm <= 0) return out;

  loss::ItmPlan plan;
  at::Tensor itm_logits;
  if (!itm_hard) {
    plan = loss::plan_itm_random(batch.size(), batch.row_offset, key, device);
    // Images are never swapped in random mode: a frozen image tower's output is reusable.
    itm_logits = model->itm_logits(select_pairs(input, plan, batch.row_offset), enc.image_cache);
  } else {
    loss::RowKeys keys{loss::text_keys(batch.input_ids, batch.attention_mask).to(device),
                       loss::image_keys(batch.pixels, batch.pixel_mask).to(device),
                       batch.sample_index.to(device)};
    plan = loss::plan_itm_hard(*itc, keys, key, config.loss.hard_eps, *comm);
    // Negatives from other ranks arrive as token ids and pixels and are re-encoded here.
    model::ModelInput global = gather_rows(input, *comm, manifest.pad_id());
    itm_logits = model->itm_logits(select_pairs(global, plan, 0), at::Tensor());
  }
  int64_t global_pairs = (itm_hard ? 3 : 1) * batch.global_batch_size;
  at::Tensor itm = loss::itm_loss(itm_logits, plan.labels.to(device), *comm, global_pairs);
  out.total = out.total + itm * w_itm;
  out.itm = itm.item<double>();
  out.degenerate = plan.degenerate.item<int64_t>();
  return out;
}

}  // namespace mmaux::train
