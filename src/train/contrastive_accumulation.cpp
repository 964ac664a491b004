// The gradient-cache step: the three phases of include/mmaux/train/contrastive_accumulation.h.
#include "mmaux/train/contrastive_accumulation.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "joint_loss_parts.h"
#include "mmaux/core/error.h"
#include "mmaux/loss/cross_entropy.h"
#include "mmaux/loss/itc.h"
#include "mmaux/model/dropout_rows.h"
#include "rng_replay.h"
#include "train/model_rows.h"

namespace mmaux::train {
namespace {

using detail::AutocastScope;

/// Where each micro-batch's rows of this rank sit in the accumulated global batch.
struct Layout {
  std::vector<int64_t> rows;     // this rank's rows of micro-batch j
  std::vector<int64_t> offsets;  // global row of its first one
  std::vector<int64_t> starts;   // its first row among this rank's rows of all micro-batches
  int64_t global_rows = 0;       // N: every rank's rows of every micro-batch
};

Layout layout_of(const std::vector<data::Batch>& micro) {
  Layout l;
  int64_t start = 0;
  for (const data::Batch& b : micro) {
    MMAUX_CHECK(b.row_offset >= 0 && b.row_offset + b.size() <= b.global_batch_size,
                "contrastive accumulation: a micro-batch holds rows [{}, {}) of a global batch of "
                "{} rows",
                b.row_offset, b.row_offset + b.size(), b.global_batch_size);
    l.rows.push_back(b.size());
    l.offsets.push_back(l.global_rows + b.row_offset);
    l.starts.push_back(start);
    start += b.size();
    l.global_rows += b.global_batch_size;
  }
  return l;
}

/// The global CE normaliser D of the accumulated batch (kWeights: one all-reduce).
double ce_normaliser(const LossModel& m, const std::vector<data::Batch>& micro, const Layout& l,
                     CeNorm norm, dist::Communicator& comm) {
  if (norm == CeNorm::kBatch || !m.class_weights.defined()) {
    return static_cast<double>(l.global_rows);
  }
  double local = 0;
  for (const data::Batch& b : micro) local += loss::ce_normaliser(b.labels, m.class_weights, norm);
  at::Tensor d = at::full({1}, local, at::TensorOptions(at::kDouble).device(comm.device()));
  comm.all_reduce(d, dist::ReduceOp::kSum);
  return d.cpu().item<double>();
}

/// What phases 1 and 2 leave for phase 3.
struct Cache {
  at::Tensor grad_text, grad_image;  // [Σ_j b_j, d]: d ITC / d vectors (λ_itc > 0)
  at::Tensor grad_scale;             // d ITC / d s (λ_itc > 0 and s learns)
  double itc = 0;                    // this rank's ITC term
  std::vector<loss::ItmPlan> hard_plans;
  model::ModelInput table;  // hard ITM: every global row's input, on the host
};

// Phase 1: the ITC vectors of every micro-batch, without gradient.
std::pair<at::Tensor, at::Tensor> encode_all(const LossModel& m,
                                             const std::vector<data::Batch>& micro, const Layout& l,
                                             bool bf16, RngReplay& rng) {
  at::NoGradGuard no_grad;
  AutocastScope autocast(bf16);
  std::vector<at::Tensor> texts, images;
  for (size_t j = 0; j < micro.size(); ++j) {
    rng.first_pass(static_cast<int>(j));
    model::DropoutRows rows(model::DropoutRows::range(l.offsets[j], l.rows[j]));
    model::Encoded enc = m.model.encode(to_model_input(micro[j], m.device));
    texts.push_back(enc.itc_text);
    images.push_back(enc.itc_image);
  }
  rng.end_first_passes();
  return {at::cat(texts), at::cat(images)};
}

// Phase 2, hard ITM: negatives from the full similarity matrix, and the inputs they refer to.
void plan_hard(Cache& c, const loss::ItcResult& itc, const LossModel& m,
               const std::vector<data::Batch>& micro, const Layout& l, loss::SamplingKey key,
               const JointLossOptions& o, dist::Communicator& comm) {
  std::vector<at::Tensor> keys;
  std::vector<model::ModelInput> tables;
  for (const data::Batch& b : micro) {
    loss::RowKeys k{loss::text_keys(b.input_ids, b.attention_mask).to(m.device),
                    loss::image_keys(b.pixels, b.pixel_mask).to(m.device),
                    b.sample_index.to(m.device)};
    keys.push_back(loss::gather_row_keys(k, comm));
    // Kept on the host: only each micro-batch's pairs go to the device. Token type ids, when
    // the input has them, travel with the token ids.
    tables.push_back(to_device(gather_rows(to_model_input(b, m.device), comm, o.pad_id), at::kCPU));
  }
  at::Tensor all_keys = at::cat(keys);
  for (size_t j = 0; j < micro.size(); ++j) {
    c.hard_plans.push_back(loss::plan_itm_hard_gathered(
        itc.sim_i2t.narrow(0, l.starts[j], l.rows[j]),
        itc.sim_t2i.narrow(0, l.starts[j], l.rows[j]), l.offsets[j], all_keys, key, o.hard_eps));
  }
  c.table = concat_rows(tables, o.pad_id);
}

// Phase 2: the contrastive loss over the whole set and its gradient w.r.t. the cached vectors.
Cache contrast(const LossModel& m, const at::Tensor& text, const at::Tensor& image,
               const std::vector<data::Batch>& micro, const Layout& l, loss::SamplingKey key,
               const JointLossOptions& o, dist::Communicator& comm) {
  Cache c;
  const bool learn = o.weights.itc > 0;
  at::Tensor t = text.detach().requires_grad_(learn);
  at::Tensor v = image.detach().requires_grad_(learn);
  at::Tensor s =
      m.logit_scale.detach().clone().requires_grad_(learn && m.logit_scale.requires_grad());
  loss::ItcOptions opts;
  opts.clamp_logit_scale = o.clamp_logit_scale;
  opts.blocks = l.rows;
  std::optional<AutocastScope> autocast(std::in_place, o.bf16_autocast && m.device.is_cuda());
  loss::ItcResult itc = loss::itc_loss(t, v, s, comm, opts);
  autocast.reset();  // backward passes run outside autocast
  MMAUX_ASSERT(itc.block_offsets == l.offsets && itc.global_rows == l.global_rows,
               "contrastive accumulation: the ranks' rows ({} in all) do not form the global "
               "batches the micro-batches name ({} rows)",
               itc.global_rows, l.global_rows);
  if (learn) {
    c.itc = itc.loss.item<double>();
    itc.loss.backward();  // collective: the gathers' reduce-scatters
    c.grad_text = t.grad().defined() ? t.grad() : at::zeros_like(t);
    c.grad_image = v.grad().defined() ? v.grad() : at::zeros_like(v);
    if (s.requires_grad()) c.grad_scale = s.grad().defined() ? s.grad() : at::zeros_like(s);
  }
  if (o.weights.itm > 0 && o.itm_mode == ItmMode::kHard) {
    plan_hard(c, itc, m, micro, l, key, o, comm);
  }
  return c;
}

/// Phase 3's view of one micro-batch.
struct Micro {
  const data::Batch& batch;
  size_t j;
  model::ModelInput input;
  model::Encoded enc;
};

// λ_itc times the ITC surrogate of micro-batch j: its value is 0 (the loss value is added once,
// with the last micro-batch), its gradient the cached one.
at::Tensor itc_surrogate(const Micro& mb, const Cache& c, const Layout& l, bool last,
                         const LossModel& m, const JointLossOptions& o) {
  const int64_t start = l.starts[mb.j], rows = l.rows[mb.j];
  at::Tensor g_t = c.grad_text.narrow(0, start, rows).to(mb.enc.itc_text.scalar_type());
  at::Tensor g_v = c.grad_image.narrow(0, start, rows).to(mb.enc.itc_image.scalar_type());
  at::Tensor dot = (g_t * mb.enc.itc_text).sum() + (g_v * mb.enc.itc_image).sum();
  at::Tensor term = dot - dot.detach();
  if (last) {
    term = term + c.itc;
    if (c.grad_scale.defined()) {
      at::Tensor ds = (c.grad_scale * m.logit_scale).sum();
      term = term + (ds - ds.detach());
    }
  }
  return term * o.weights.itc;
}

// The ITM term of micro-batch j (unweighted); records its plan.
at::Tensor itm_term(const Micro& mb, const Cache& c, const Layout& l, loss::SamplingKey key,
                    const LossModel& m, const JointLossOptions& o, dist::Communicator& comm,
                    AccumulatedStep& out) {
  const bool hard = o.itm_mode == ItmMode::kHard;
  const int64_t rows = l.rows[mb.j], offset = l.offsets[mb.j];
  loss::ItmPlan plan;
  at::Tensor logits;
  model::DropoutRows keyed(detail::itm_pair_rows(hard, rows, offset, l.global_rows));
  if (!hard) {
    plan = detail::random_itm_plan(rows, offset, key, o.random_itm_group, m.device);
    logits = m.model.itm_logits(select_pairs(mb.input, plan, offset), mb.enc.image_cache);
  } else {
    plan = c.hard_plans[mb.j];
    loss::ItmPlan on_host{plan.text_rows.cpu(), plan.image_rows.cpu(), plan.labels, {}};
    logits =
        m.model.itm_logits(to_device(select_pairs(c.table, on_host, 0), m.device), at::Tensor());
  }
  at::Tensor itm =
      loss::itm_loss(logits, plan.labels.to(m.device), comm, (hard ? 3 : 1) * l.global_rows);
  out.losses.itm += itm.item<double>();
  out.losses.degenerate += plan.degenerate.item<int64_t>();
  out.itm_plans.push_back(std::move(plan));
  return itm;
}

// Phase 3 for micro-batch j: its forward passes with gradient; returns its loss term.
at::Tensor micro_term(const LossModel& m, const data::Batch& batch, size_t j, const Layout& l,
                      const Cache& c, double ce_norm, loss::SamplingKey key,
                      const JointLossOptions& o, dist::Communicator& comm, RngReplay& rng,
                      AccumulatedStep& out) {
  Micro mb{batch, j, to_model_input(batch, m.device), {}};
  const int k = static_cast<int>(j);
  AutocastScope autocast(o.bf16_autocast && m.device.is_cuda());
  rng.replay(k);
  at::Tensor logits;
  {
    model::DropoutRows rows(model::DropoutRows::range(l.offsets[j], l.rows[j]));
    mb.enc = m.model.encode(mb.input);
    rng.after_encoder(k);
    logits = m.model.classify(mb.enc.fused);
  }
  // CE weighted 0 (pretraining): the labels are not read (they may be absent, -1); the zero
  // term keeps the classifier's gradients defined (zeros) as a zero-weighted CE did.
  at::Tensor term = logits.sum() * 0.0;
  if (o.weights.ce > 0) {
    at::Tensor ce = loss::cross_entropy_normalised(
        logits, batch.labels.to(m.device), m.class_weights, o.ce_norm, comm.world_size(), ce_norm);
    out.losses.ce += ce.item<double>();
    term = ce * o.weights.ce;
  }
  if (c.grad_text.defined()) {
    term = term + itc_surrogate(mb, c, l, j + 1 == l.rows.size(), m, o);
  }
  if (o.weights.itm > 0) term = term + itm_term(mb, c, l, key, m, o, comm, out) * o.weights.itm;
  rng.end_micro(k);
  return term;
}

}  // namespace

bool is_contrastive(const JointLossOptions& o) {
  return o.weights.itc > 0 || (o.weights.itm > 0 && o.itm_mode == ItmMode::kHard);
}

AccumulatedStep contrastive_accumulation_step(const LossModel& m,
                                              const std::vector<data::Batch>& micro, int64_t step,
                                              const JointLossOptions& o, dist::Communicator& comm,
                                              const AccumulationHooks& hooks) {
  MMAUX_CHECK(!micro.empty(), "contrastive accumulation needs at least one micro-batch");
  const Layout l = layout_of(micro);
  const loss::SamplingKey key{o.sampling_seed, step};
  const double ce_norm = ce_normaliser(m, micro, l, o.ce_norm, comm);
  RngReplay rng(m.device);
  Cache cache;
  if (is_contrastive(o)) {
    auto [text, image] = encode_all(m, micro, l, o.bf16_autocast && m.device.is_cuda(), rng);
    cache = contrast(m, text, image, micro, l, key, o, comm);
  }
  AccumulatedStep out;
  double total = 0;
  const int count = static_cast<int>(micro.size());
  for (size_t j = 0; j < micro.size(); ++j) {
    at::Tensor term = micro_term(m, micro[j], j, l, cache, ce_norm, key, o, comm, rng, out);
    if (hooks.before_backward) hooks.before_backward(static_cast<int>(j), count, term);
    term.backward();
    total += term.item<double>();
  }
  out.losses.itc = cache.itc;
  out.losses.total = at::scalar_tensor(total, at::kDouble);
  return out;
}

}  // namespace mmaux::train
