#include "gpu/step_compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "mmaux/config/model_options.h"
#include "mmaux/loss/cross_entropy.h"
#include "mmaux/loss/itc.h"
#include "mmaux/model/config.h"
#include "mmaux/model/multimodal.h"
#include "mmaux/train/autocast.h"
#include "mmaux/train/optimizer.h"

namespace mmaux::testing {
namespace {

using Named = std::vector<std::pair<std::string, at::Tensor>>;

struct CpuBatch {
  model::ModelInput input;
  at::Tensor labels;
};

/// Texts of different lengths (padded), two rows that repeat another row's text or image (the
/// hard-ITM duplicate masking takes part), and for `padded_images` images of three sizes.
CpuBatch make_batch(const StepCase& c, const model::ModelArchitecture& cfg, at::ScalarType dtype) {
  const bool vilt = c.model == "vilt";
  const int64_t vocab = vilt ? cfg.vilt.vocab_size : cfg.text.vocab_size;
  const int64_t length = std::min<int64_t>(
      32, vilt ? cfg.vilt.max_position_embeddings : cfg.text.max_position_embeddings);
  const int64_t image = vilt ? cfg.vilt.image_size : cfg.vision.image_size;
  const int64_t patch = vilt ? cfg.vilt.patch_size : cfg.vision.patch_size;
  const int64_t b = c.batch;
  at::manual_seed(c.seed + 1);
  CpuBatch out;
  at::Tensor ids = at::randint(1, vocab, {b, length}, at::kLong);
  at::Tensor mask = at::ones({b, length}, at::kLong);
  for (int64_t i = 0; i < b; ++i) {
    const int64_t real = length - (3 * i) % (length / 2);
    mask[i].narrow(0, real, length - real).zero_();
    ids[i].narrow(0, real, length - real).zero_();
  }
  at::Tensor pixels = at::randn({b, 3, image, image}, at::kDouble).to(dtype);
  at::Tensor pixel_mask = at::ones({b, image, image}, at::kLong);
  if (b > 4) {
    ids[4].copy_(ids[1]);
    mask[4].copy_(mask[1]);
    pixels[b - 1].copy_(pixels[2]);
  }
  if (c.padded_images) {
    for (int64_t i = 0; i < b; i += 2) {
      const int64_t h = image - patch * (1 + (i / 2) % 2), w = image - patch;
      pixels[i].narrow(1, h, image - h).zero_();
      pixels[i].narrow(2, w, image - w).zero_();
      pixel_mask[i].narrow(0, h, image - h).zero_();
      pixel_mask[i].narrow(1, w, image - w).zero_();
    }
  }
  out.input = model::ModelInput{ids, mask, pixels, pixel_mask};
  out.labels = at::randint(0, 3, {b}, at::kLong);
  return out;
}

model::ModelInput to_device(const model::ModelInput& in, c10::Device device) {
  return model::ModelInput{in.input_ids.to(device), in.attention_mask.to(device),
                           in.pixels.to(device), in.pixel_mask.to(device)};
}

model::ModelInput rows(const model::ModelInput& in, const at::Tensor& text,
                       const at::Tensor& image) {
  return model::ModelInput{in.input_ids.index_select(0, text),
                           in.attention_mask.index_select(0, text),
                           in.pixels.index_select(0, image), in.pixel_mask.index_select(0, image)};
}

at::Tensor host(const at::Tensor& t) {
  return t.defined() ? t.detach().to(at::kCPU).to(at::kDouble).clone() : at::Tensor();
}

double max_abs(const at::Tensor& t) {
  return t.defined() && t.numel() > 0 ? t.abs().max().item<double>() : 0.0;
}

double relative(const at::Tensor& got, const at::Tensor& want, double floor) {
  if (got.defined() != want.defined() || (got.defined() && got.sizes() != want.sizes())) {
    return std::numeric_limits<double>::infinity();
  }
  if (!got.defined() || got.numel() == 0) return 0;
  const double scale = std::max({max_abs(want), floor, 1e-300});
  return (got - want).abs().max().item<double>() / scale;
}

void compare_named(const Named& got, const Named& want, const std::string& kind, double tol,
                   std::vector<Difference>& out) {
  double largest = 0;
  for (const auto& [name, t] : want) largest = std::max(largest, max_abs(t));
  const double floor = 1e-6 * largest;
  std::map<std::string, at::Tensor> w(want.begin(), want.end());
  for (const auto& [name, t] : got) {
    auto it = w.find(name);
    if (it == w.end()) {
      out.push_back({kind + " " + name + " (only in the first result)",
                     std::numeric_limits<double>::infinity()});
      continue;
    }
    const double r = relative(t, it->second, floor);
    if (!(r <= tol)) out.push_back({kind + " " + name, r});
    w.erase(it);
  }
  for (const auto& [name, t] : w) {
    out.push_back({kind + " " + name + " (only in the second result)",
                   std::numeric_limits<double>::infinity()});
  }
}

}  // namespace

StepResult run_step(const StepCase& c, c10::Device device, dist::Communicator& comm) {
  at::manual_seed(c.seed);
  ModelOptions o;
  o.name = parse_option<ModelKind>("model.name", c.model);
  o.preset = parse_option<ModelPreset>("model.preset", c.preset);
  o.dropout = 0;
  o.encoder_dropout = 0;
  auto model = model::make_model(o, 3);
  model->to(c.dtype);
  model->to(device);
  model->train();
  at::Tensor scale = at::full({}, std::log(1 / 0.07), at::TensorOptions(c.dtype))
                         .to(device)
                         .set_requires_grad(true);
  const CpuBatch batch = make_batch(c, model::preset_config(o.name, o.preset), c.dtype);
  const int64_t b = c.batch;
  const bool hard = c.itm == loss::ItmMode::kHard;

  at::Tensor ce, itc_loss, itm, total;
  loss::ItmPlan plan;
  {
    train::AutocastScope autocast(c.bf16_autocast && device.is_cuda());
    model::ModelInput in = to_device(batch.input, device);
    model::Encoded enc = model->encode(in);
    at::Tensor weights = loss::balanced_class_weights({3, 2, 1}).to(device);
    ce = loss::cross_entropy(model->classify(enc.fused), batch.labels.to(device), weights,
                             loss::CeNorm::kBatch, comm, b);
    loss::ItcResult itc = loss::itc_loss(enc.itc_text, enc.itc_image, scale, comm);
    itc_loss = itc.loss;
    const loss::SamplingKey key{c.seed, 3};
    if (hard) {
      loss::RowKeys keys{
          loss::text_keys(batch.input.input_ids, batch.input.attention_mask).to(device),
          loss::image_keys(batch.input.pixels, batch.input.pixel_mask).to(device),
          at::arange(b, at::kLong).to(device)};
      plan = loss::plan_itm_hard(itc, keys, key, 1e-4, comm);
    } else {
      plan = loss::plan_itm_random(b, 0, key, device);
    }
    at::Tensor logits = model->itm_logits(rows(in, plan.text_rows, plan.image_rows), at::Tensor());
    itm = loss::itm_loss(logits, plan.labels, comm, (hard ? 3 : 1) * b);
    total = 0.8 * ce + 0.1 * itc_loss + 0.1 * itm;
  }
  total.backward();

  StepResult r;
  r.losses = {{"ce", ce.item<double>()},
              {"itc", itc_loss.item<double>()},
              {"itm", itm.item<double>()},
              {"total", total.item<double>()}};
  r.plan = {{"itm.text_rows", plan.text_rows.cpu()},
            {"itm.image_rows", plan.image_rows.cpu()},
            {"itm.labels", plan.labels.cpu()}};
  for (const auto& p : model->named_parameters()) {
    r.params.emplace_back(p.key(), host(p.value()));
    r.grads.emplace_back(p.key(), host(p.value().grad()));
  }
  r.params.emplace_back("logit_scale", host(scale));
  r.grads.emplace_back("logit_scale", host(scale.grad()));
  return r;
}

void add_updates(StepResult& r, const StepResult& source, c10::Device device) {
  train::ParamGroup group{"decay", 0.01, {}, {}};
  for (size_t i = 0; i < source.params.size(); ++i) {
    at::Tensor p = source.params[i].second.to(device).clone().set_requires_grad(true);
    const at::Tensor& g = source.grads[i].second;
    if (g.defined()) p.mutable_grad() = g.to(device).clone();
    group.names.push_back(source.params[i].first);
    group.params.push_back(p);
  }
  train::AdamW adamw({group});
  adamw.step(1e-3);
  r.update.clear();
  for (size_t i = 0; i < group.params.size(); ++i) {
    r.update.emplace_back(group.names[i], host(group.params[i]) - source.params[i].second);
  }
}

std::vector<Difference> differences(const StepResult& got, const StepResult& want, double tol) {
  std::vector<Difference> out;
  std::map<std::string, double> w(want.losses.begin(), want.losses.end());
  for (const auto& [name, value] : got.losses) {
    auto it = w.find(name);
    const double r = it == w.end()
                         ? std::numeric_limits<double>::infinity()
                         : std::abs(value - it->second) / std::max(std::abs(it->second), 1e-300);
    if (!(r <= tol)) out.push_back({"loss " + name, r});
  }
  std::map<std::string, at::Tensor> plan(want.plan.begin(), want.plan.end());
  for (const auto& [name, t] : got.plan) {
    auto it = plan.find(name);
    if (it == plan.end() || !at::equal(t, it->second)) {
      out.push_back({name + " (different pairs)", std::numeric_limits<double>::infinity()});
    }
  }
  compare_named(got.params, want.params, "parameter", tol, out);
  compare_named(got.grads, want.grads, "gradient", tol, out);
  compare_named(got.update, want.update, "update", tol, out);
  return out;
}

double max_relative_difference(const StepResult& got, const StepResult& want) {
  std::vector<Difference> all = differences(got, want, -1.0);  // every quantity
  double m = 0;
  for (const auto& d : all) m = std::max(m, d.relative);
  return m;
}

std::string describe(const std::vector<Difference>& d, size_t n) {
  std::string s;
  for (size_t i = 0; i < d.size() && i < n; ++i) {
    s += fmt::format("{}{} ({:.3g})", i ? ", " : "", d[i].name, d[i].relative);
  }
  if (d.size() > n) s += fmt::format(", and {} more", d.size() - n);
  return s;
}

}  // namespace mmaux::testing
