#include "mmaux/train/optimizer.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "adamw_kernel.h"
#include "mmaux/core/error.h"
#include "mmaux/dist/grad_sync.h"

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
      mark_active_rows(s);
      slots_[g.names[i]] = s;
    }
  }
}

namespace {

/// The coefficients of one AdamW update of one parameter.
struct Update {
  double decay;  ///< p ← p · decay (1 − lr · weight_decay)
  double beta1, beta2, eps;
  double sqrt_bc2;   ///< sqrt(1 − β₂ᵗ)
  double step_size;  ///< −lr / (1 − β₁ᵗ)
};

/// The update's coefficients in T, rounded as libtorch rounds scalar arguments.
template <typename T>
detail::AdamWCoefficients<T> coefficients(const Update& u, bool decay) {
  detail::AdamWCoefficients<T> c;
  c.decay = static_cast<T>(u.decay);
  c.beta1 = static_cast<T>(u.beta1);
  c.one_minus_beta1 = static_cast<T>(1 - u.beta1);
  c.beta2 = static_cast<T>(u.beta2);
  c.one_minus_beta2 = static_cast<T>(1 - u.beta2);
  c.eps = static_cast<T>(u.eps);
  c.sqrt_bc2 = static_cast<T>(u.sqrt_bc2);
  c.step_size = static_cast<T>(u.step_size);
  c.apply_decay = decay;
  return c;
}

/// The same arithmetic in one pass over memory instead of eight (CPU, contiguous float or
/// double tensors): detail::adamw_update on parallel chunks.
template <typename T>
void update_fused(T* p, const T* g, T* m, T* v, int64_t n, const Update& u, bool decay) {
  const detail::AdamWCoefficients<T> c = coefficients<T>(u, decay);
  at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) {
    detail::adamw_update(p + begin, g + begin, m + begin, v + begin, end - begin, c);
  });
}

/// Row by row for an embedding table: rows not yet active (zero moments) with a zero gradient
/// get the decay alone — exactly what the full update computes for them (m and v stay 0, and
/// p·decay + step·0 / eps = p·decay) — and become active at their first non-zero gradient.
template <typename T>
void update_rows(T* p, const T* g, T* m, T* v, int64_t rows, int64_t dim, const Update& u,
                 bool decay, std::vector<uint8_t>& active, const uint8_t* hint) {
  const detail::AdamWCoefficients<T> c = coefficients<T>(u, decay);
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, dim));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t o = r * dim;
      if (!active[r]) {
        // A row the hint marks 0 has a zero gradient; one it marks 1 is updated in full
        // (which equals the decay alone if its gradient is zero after all).
        if (hint ? hint[r] == 0 : detail::all_zero(g + o, dim)) {
          if (decay) detail::scale(p + o, dim, c.decay);
          continue;
        }
        active[r] = 1;
      }
      detail::adamw_update(p + o, g + o, m + o, v + o, dim, c);
    }
  });
}

/// Parameters that share an update (device, dtype, step count, decay): libtorch's op sequence
/// as multi-tensor (_foreach) calls. On a GPU that is a handful of kernel launches for the whole
/// model instead of nine per parameter; on the CPU the _foreach ops run the same per-tensor ops.
struct MultiTensorBucket {
  Update u;
  bool decay = false;
  std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs;
};

void update_multi_tensor(MultiTensorBucket& b) {
  const Update& u = b.u;
  if (b.decay) at::_foreach_mul_(b.params, u.decay);
  at::_foreach_mul_(b.exp_avgs, u.beta1);
  at::_foreach_add_(b.exp_avgs, b.grads, 1 - u.beta1);
  at::_foreach_mul_(b.exp_avg_sqs, u.beta2);
  at::_foreach_addcmul_(b.exp_avg_sqs, b.grads, b.grads, 1 - u.beta2);
  std::vector<at::Tensor> denom = at::_foreach_sqrt(b.exp_avg_sqs);
  at::_foreach_div_(denom, u.sqrt_bc2);
  at::_foreach_add_(denom, u.eps);
  at::_foreach_addcdiv_(b.params, b.exp_avgs, denom, u.step_size);
}

bool fusable(const at::Tensor& p, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v) {
  const at::ScalarType t = p.scalar_type();
  return p.is_cpu() && (t == at::kFloat || t == at::kDouble) && g.scalar_type() == t &&
         p.is_contiguous() && g.is_contiguous() && m.is_contiguous() && v.is_contiguous();
}

}  // namespace

void AdamW::step(double lr, const RowHints* hints) {
  at::NoGradGuard no_grad;
  std::map<std::string, MultiTensorBucket> buckets;  // the parameters the fused kernel cannot take
  for (auto& g : groups_) {
    for (size_t i = 0; i < g.params.size(); ++i) {
      at::Tensor& p = g.params[i];
      const at::Tensor& grad = p.grad();
      if (!grad.defined()) continue;
      Slot& s = slots_[g.names[i]];
      s.step += 1;
      Update u;
      u.decay = 1 - lr * g.weight_decay;
      u.beta1 = options_.beta1;
      u.beta2 = options_.beta2;
      u.eps = options_.eps;
      u.sqrt_bc2 = std::sqrt(1 - std::pow(options_.beta2, static_cast<double>(s.step)));
      u.step_size = -lr / (1 - std::pow(options_.beta1, static_cast<double>(s.step)));
      const bool decay = g.weight_decay != 0;
      if (!fusable(p, grad, s.exp_avg, s.exp_avg_sq)) {
        const std::string key = fmt::format("{}|{}|{}|{}", p.device().str(),
                                            c10::toString(p.scalar_type()), s.step, u.decay);
        MultiTensorBucket& b = buckets[key];
        b.u = u;
        b.decay = decay;
        b.params.push_back(p);
        b.grads.push_back(grad);
        b.exp_avgs.push_back(s.exp_avg);
        b.exp_avg_sqs.push_back(s.exp_avg_sq);
        s.active_rows.clear();  // every row may now hold moments: dense updates from here on
        continue;
      }
      if (!s.active_rows.empty()) {
        const uint8_t* hint = nullptr;
        if (hints) {
          auto it = hints->find(g.names[i]);
          if (it != hints->end() && static_cast<int64_t>(it->second.size()) == p.size(0)) {
            hint = it->second.data();
          }
        }
        AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "adamw_step_rows", [&] {
          update_rows(p.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>(),
                      s.exp_avg.data_ptr<scalar_t>(), s.exp_avg_sq.data_ptr<scalar_t>(), p.size(0),
                      p.size(1), u, decay, s.active_rows, hint);
        });
        continue;
      }
      AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "adamw_step", [&] {
        update_fused(p.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>(),
                     s.exp_avg.data_ptr<scalar_t>(), s.exp_avg_sq.data_ptr<scalar_t>(), p.numel(),
                     u, decay);
      });
    }
  }
  for (auto& [key, b] : buckets) update_multi_tensor(b);
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
    mark_active_rows(s);
  }
}

void AdamW::mark_active_rows(Slot& s) const {
  s.active_rows.clear();
  if (!dist::synchronised_by_rows(s.exp_avg) || !s.exp_avg.is_cpu()) return;
  at::Tensor any = s.exp_avg.ne(0).logical_or(s.exp_avg_sq.ne(0)).any(1).to(at::kByte).contiguous();
  const uint8_t* a = any.data_ptr<uint8_t>();
  s.active_rows.assign(a, a + any.numel());
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

double scheduled_lr(Schedule schedule, double lr, double warmup, int64_t step,
                    int64_t total_steps) {
  double w = warmup >= 1 ? warmup : warmup * static_cast<double>(total_steps);
  double s = static_cast<double>(step);
  if (w > 0 && s < w) return lr * s / w;
  double span = static_cast<double>(total_steps) - w;
  double progress = span > 0 ? std::min(1.0, std::max(0.0, (s - w) / span)) : 1.0;
  switch (schedule) {
    case Schedule::kConstant:
      return lr;
    case Schedule::kLinear:
      return lr * (1.0 - progress);
    case Schedule::kCosine:
      return lr * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  MMAUX_THROW(InternalError, "schedule {} has no formula (a bug)", static_cast<int>(schedule));
}

}  // namespace mmaux::train
