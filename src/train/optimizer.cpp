#include "mmaux/train/optimizer.h"

#include <ATen/ATen.h>

#include <cmath>

#include "mmaux/core/error.h"

namespace mmaux::train {

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : groups_(std::move(groups)), options_(options) {
  for (const auto& g : groups_) {
    MMAUX_ASSERT(g.names.size() == g.params.size());
    for (size_t i = 0; i < g.params.size(); ++i) {
      MMAUX_ASSERT(!slots_.count(g.names[i]), "parameter '{}' in two groups", g.names[i]);
      Slot s;
      s.exp_avg = at::zeros_like(g.params[i]);
      s.exp_avg_sq = at::zeros_like(g.params[i]);
      slots_[g.names[i]] = s;
    }
  }
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  for (auto& g : groups_) {
    for (size_t i = 0; i < g.params.size(); ++i) {
      at::Tensor& p = g.params[i];
      const at::Tensor& grad = p.grad();
      if (!grad.defined()) continue;
      Slot& s = slots_[g.names[i]];
      s.step += 1;
      if (g.weight_decay != 0) p.mul_(1 - lr * g.weight_decay);
      s.exp_avg.mul_(options_.beta1).add_(grad, 1 - options_.beta1);
      s.exp_avg_sq.mul_(options_.beta2).addcmul_(grad, grad, 1 - options_.beta2);
      double bc1 = 1 - std::pow(options_.beta1, static_cast<double>(s.step));
      double bc2 = 1 - std::pow(options_.beta2, static_cast<double>(s.step));
      at::Tensor denom = (s.exp_avg_sq.sqrt() / std::sqrt(bc2)).add_(options_.eps);
      p.addcdiv_(s.exp_avg, denom, -lr / bc1);
    }
  }
}

void AdamW::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params)
      if (p.grad().defined()) p.mutable_grad() = at::Tensor();
}

std::map<std::string, at::Tensor> AdamW::state() const {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, s] : slots_) {
    out[name + ".exp_avg"] = s.exp_avg;
    out[name + ".exp_avg_sq"] = s.exp_avg_sq;
    out[name + ".step"] = at::full({1}, s.step, at::kLong);
  }
  return out;
}

void AdamW::load_state(const std::map<std::string, at::Tensor>& state) {
  at::NoGradGuard no_grad;
  auto get = [&](const std::string& key) -> const at::Tensor& {
    auto it = state.find(key);
    MMAUX_CHECK_DATA(it != state.end(), "optimizer state has no entry '{}'", key);
    return it->second;
  };
  for (auto& [name, s] : slots_) {
    const at::Tensor& m = get(name + ".exp_avg");
    const at::Tensor& v = get(name + ".exp_avg_sq");
    MMAUX_CHECK_DATA(m.sizes() == s.exp_avg.sizes() && v.sizes() == s.exp_avg_sq.sizes(),
                     "optimizer state of '{}' has shape [{}] but the parameter has [{}]", name,
                     fmt::join(m.sizes(), ", "), fmt::join(s.exp_avg.sizes(), ", "));
    s.exp_avg.copy_(m);
    s.exp_avg_sq.copy_(v);
    s.step = get(name + ".step").item<int64_t>();
  }
}

std::vector<ParamGroup> make_param_groups(
    const std::vector<std::pair<std::string, at::Tensor>>& named, double weight_decay,
    bool decay_everything) {
  ParamGroup decay{"decay", weight_decay, {}, {}};
  ParamGroup no_decay{"no_decay", 0.0, {}, {}};
  for (const auto& [name, p] : named) {
    if (!p.requires_grad()) continue;
    bool exempt = !decay_everything && p.dim() <= 1;
    ParamGroup& g = exempt ? no_decay : decay;
    g.names.push_back(name);
    g.params.push_back(p);
  }
  std::vector<ParamGroup> out;
  if (!decay.params.empty()) out.push_back(std::move(decay));
  if (!no_decay.params.empty()) out.push_back(std::move(no_decay));
  return out;
}

double scheduled_lr(const std::string& schedule, double lr, double warmup, int64_t step,
                    int64_t total_steps) {
  double w = warmup >= 1 ? warmup : warmup * static_cast<double>(total_steps);
  double s = static_cast<double>(step);
  if (w > 0 && s < w) return lr * s / w;
  if (schedule == "constant") return lr;
  double span = static_cast<double>(total_steps) - w;
  double progress = span > 0 ? std::min(1.0, std::max(0.0, (s - w) / span)) : 1.0;
  if (schedule == "linear") return lr * (1.0 - progress);
  if (schedule == "cosine") return lr * 0.5 * (1.0 + std::cos(M_PI * progress));
  MMAUX_THROW(ConfigError, "option 'train.schedule': unknown schedule '{}'", schedule);
}

}  // namespace mmaux::train
