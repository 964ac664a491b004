#include "mmaux/model/layers.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "mmaux/core/error.h"
#include "random.h"

namespace mmaux::model {

namespace {

void normal_init(at::Tensor& t, double std) {
  at::NoGradGuard no_grad;
  t.normal_(0.0, std);
}

/// A plain container module that only gives its children a name prefix.
std::shared_ptr<torch::nn::Module> group(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>());
}

}  // namespace

LayerNorm::LayerNorm(int64_t dim, double eps) : dim_(dim), eps_(eps) {
  weight_ = register_parameter("weight", at::ones({dim}));
  bias_ = register_parameter("bias", at::zeros({dim}));
}

at::Tensor LayerNorm::forward(const at::Tensor& x) const {
  return at::layer_norm(x, {dim_}, weight_, bias_, eps_);
}

Embedding::Embedding(int64_t num, int64_t dim) {
  weight_ = register_parameter("weight", at::empty({num, dim}));
  normal_init(weight_, 0.02);
}

at::Tensor Embedding::forward(const at::Tensor& ids) const {
  // index_select rather than at::embedding: same values, but its backward is one vectorised
  // index_add instead of a per-token loop (10% of a small-model step on CPU).
  std::vector<int64_t> shape = ids.sizes().vec();
  shape.push_back(weight_.size(1));
  return at::index_select(weight_, 0, ids.reshape({-1})).view(shape);
}

torch::nn::Linear make_linear(int64_t in, int64_t out, bool bias) {
  torch::nn::Linear l(torch::nn::LinearOptions(in, out).bias(bias));
  normal_init(l->weight, 0.02);
  if (bias) {
    at::NoGradGuard no_grad;
    l->bias.zero_();
  }
  return l;
}

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (x.dim() == 2 || !bias.defined()) return at::linear(x, weight, bias);
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = weight.size(0);
  return at::addmm(bias, x.reshape({-1, x.size(-1)}), weight.t()).view(shape);
}

at::Tensor linear(const at::Tensor& x, const torch::nn::Linear& layer) {
  return linear(x, layer->weight, layer->bias);
}

namespace {

/// Inverted dropout as one pass forward and one backward: the mask is never stored, the
/// backward pass regenerates it from the seed (element i of the contiguous input is kept when
/// detail::keep(seed, i) holds).
class FusedDropout : public torch::autograd::Function<FusedDropout> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, double p) {
    const uint64_t seed = detail::draw_seed();
    // The backward pass runs outside the forward's DropoutRows scope: the rows travel with it.
    std::vector<int64_t> rows = detail::keyed_rows(x);
    at::Tensor out = scale(x.contiguous(), p, seed, rows);
    ctx->saved_data["p"] = p;
    ctx->saved_data["seed"] = static_cast<int64_t>(seed);
    ctx->saved_data["rows"] = rows;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const double p = ctx->saved_data["p"].toDouble();
    const uint64_t seed = static_cast<uint64_t>(ctx->saved_data["seed"].toInt());
    const std::vector<int64_t> rows = ctx->saved_data["rows"].toIntVector();
    return {scale(grads[0].contiguous(), p, seed, rows), at::Tensor()};
  }

  /// x ⊙ mask / (1 − p) for a contiguous float or double CPU tensor; `rows` as
  /// detail::keyed_rows returns them.
  static at::Tensor scale(const at::Tensor& x, double p, uint64_t seed,
                          const std::vector<int64_t>& rows) {
    at::Tensor out = at::empty_like(x);
    const uint32_t threshold = detail::keep_threshold(p);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fused_dropout", [&] {
      const scalar_t* in = x.data_ptr<scalar_t>();
      scalar_t* o = out.data_ptr<scalar_t>();
      const scalar_t factor = static_cast<scalar_t>(1.0 / (1.0 - p));
      if (rows.empty()) {
        at::parallel_for(0, x.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
          detail::dropout_scale(o + begin, in + begin, end - begin, seed,
                                static_cast<uint64_t>(begin), threshold, factor);
        });
        return;
      }
      // Keyed rows: one contiguous run of counters per batch row.
      const int64_t n = x.size(0), size = n > 0 ? x.numel() / n : 0;
      at::parallel_for(0, n, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(size, 1)),
                       [&](int64_t begin, int64_t end) {
                         for (int64_t r = begin; r < end; ++r) {
                           detail::dropout_scale(o + r * size, in + r * size, size, seed,
                                                 detail::row_base(rows, r, size), threshold,
                                                 factor);
                         }
                       });
    });
    return out;
  }
};

/// Mask with values 0 (probability p) and 1 / (1 − p), laid out like a contiguous `like`
/// (half and bfloat16 tensors).
at::Tensor dropout_mask(const at::Tensor& like, double p) {
  at::Tensor mask =
      at::empty(like.sizes(), like.options().memory_format(at::MemoryFormat::Contiguous));
  const uint64_t seed = detail::draw_seed();
  const uint32_t threshold = detail::keep_threshold(p);
  const std::vector<int64_t> rows = detail::keyed_rows(like);
  const int64_t n = mask.numel();
  const int64_t size = rows.empty() ? std::max<int64_t>(n, 1) : n / mask.size(0);
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, mask.scalar_type(), "dropout_mask", [&] {
        scalar_t* out = mask.data_ptr<scalar_t>();
        const scalar_t keep = static_cast<scalar_t>(1.0 / (1.0 - p));
        const scalar_t drop = static_cast<scalar_t>(0);
        at::parallel_for(0, n, 1 << 14, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) {
            const uint64_t counter = detail::row_base(rows, i / size, size) + i % size;
            out[i] = detail::keep(seed, counter, threshold) ? keep : drop;
          }
        });
      });
  return mask;
}

}  // namespace

at::Tensor apply_dropout(const at::Tensor& x, double p, bool training) {
  if (!training || p <= 0) return x;
  MMAUX_CHECK(p < 1, "dropout probability must be in [0, 1), got {}", p);
  if (!x.is_cpu()) return at::dropout(x, p, true);
  if (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble) {
    return FusedDropout::apply(x, p);
  }
  return x * dropout_mask(x, p);
}

at::Tensor attention_bias(const at::Tensor& key_mask, at::ScalarType dtype) {
  // A CPU mask without padding (fixed-size images) needs no bias: skip the [b, h, L, L] add.
  // (On a GPU the test would synchronise; the add is cheap there.)
  if (key_mask.is_cpu() && key_mask.ne(0).all().item<bool>()) return at::Tensor();
  at::Tensor keep = key_mask.to(at::kBool).unsqueeze(1).unsqueeze(2);
  at::Tensor zero = at::zeros({}, key_mask.options().dtype(dtype));
  at::Tensor lowest = at::full({}, -std::numeric_limits<float>::max(), zero.options());
  if (dtype == at::kDouble) lowest.fill_(-std::numeric_limits<double>::max());
  return at::where(keep, zero, lowest);
}

at::Tensor multi_head_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const at::Tensor& bias, int64_t heads, double dropout,
                                bool training, bool query_scaled) {
  const int64_t b = q.size(0), lq = q.size(1), lk = k.size(1), d = q.size(2);
  const int64_t dh = d / heads;
  auto split = [&](const at::Tensor& t, int64_t len) {
    return t.reshape({b, len, heads, dh}).transpose(1, 2);  // [b, h, len, dh]
  };
  at::Tensor qh = split(q, lq), kh = split(k, lk), vh = split(v, lk);
  if (!query_scaled) qh = qh * (1.0 / std::sqrt(static_cast<double>(dh)));
  at::Tensor scores = at::matmul(qh, kh.transpose(-1, -2));
  if (bias.defined()) scores.add_(bias);  // in place: matmul's backward does not need its output
  at::Tensor probs = at::softmax(scores, -1);
  probs = apply_dropout(probs, dropout, training);
  at::Tensor ctx = at::matmul(probs, vh);  // [b, h, lq, dh]
  return ctx.transpose(1, 2).reshape({b, lq, d});
}

SelfAttention::SelfAttention(int64_t hidden, int64_t heads, double dropout, bool qkv_bias)
    : heads_(heads), dropout_(dropout) {
  query_ = register_module("query", make_linear(hidden, hidden, qkv_bias));
  key_ = register_module("key", make_linear(hidden, hidden, qkv_bias));
  value_ = register_module("value", make_linear(hidden, hidden, qkv_bias));
}

at::Tensor SelfAttention::forward(const at::Tensor& x, const at::Tensor& bias) {
  // One [3D, D] product instead of three [D, D] ones: a larger GEMM runs closer to peak on CPUs;
  // the parameters stay separate (checkpoint names) and the concatenation is cheap.
  // The 1/sqrt(d_head) scale is folded into the query weights (D² multiplications instead of
  // b·L·D on the activations).
  const double scale = 1.0 / std::sqrt(static_cast<double>(x.size(-1) / heads_));
  at::Tensor w = at::cat({query_->weight * scale, key_->weight, value_->weight});
  at::Tensor b;
  if (query_->bias.defined()) b = at::cat({query_->bias * scale, key_->bias, value_->bias});
  return packed_self_attention(linear(x, w, b), bias, heads_, dropout_, is_training(),
                               fused_attention_enabled());
}

BertLayer::BertLayer(int64_t hidden, int64_t heads, int64_t intermediate, double eps,
                     double hidden_dropout, double attention_dropout)
    : dropout_(hidden_dropout) {
  auto attention = group(*this, "attention");
  self_ = attention->register_module(
      "self", std::make_shared<SelfAttention>(hidden, heads, attention_dropout, true));
  auto attention_output = group(*attention, "output");
  attn_out_ = attention_output->register_module("dense", make_linear(hidden, hidden));
  attn_norm_ =
      attention_output->register_module("LayerNorm", std::make_shared<LayerNorm>(hidden, eps));
  intermediate_ =
      group(*this, "intermediate")->register_module("dense", make_linear(hidden, intermediate));
  auto output = group(*this, "output");
  out_ = output->register_module("dense", make_linear(intermediate, hidden));
  out_norm_ = output->register_module("LayerNorm", std::make_shared<LayerNorm>(hidden, eps));
}

at::Tensor BertLayer::forward(const at::Tensor& x, const at::Tensor& bias) {
  bool training = is_training();
  at::Tensor a = self_->forward(x, bias);
  a = attn_norm_->forward(x + apply_dropout(linear(a, attn_out_), dropout_, training));
  at::Tensor m = linear(at::gelu(linear(a, intermediate_)), out_);
  return out_norm_->forward(a + apply_dropout(m, dropout_, training));
}

VitLayer::VitLayer(int64_t hidden, int64_t heads, int64_t intermediate, double eps,
                   double hidden_dropout, double attention_dropout, bool qkv_bias)
    : dropout_(hidden_dropout) {
  auto attention = group(*this, "attention");
  self_ = attention->register_module(
      "attention", std::make_shared<SelfAttention>(hidden, heads, attention_dropout, qkv_bias));
  attn_out_ = group(*attention, "output")->register_module("dense", make_linear(hidden, hidden));
  intermediate_ =
      group(*this, "intermediate")->register_module("dense", make_linear(hidden, intermediate));
  out_ = group(*this, "output")->register_module("dense", make_linear(intermediate, hidden));
  before_ = register_module("layernorm_before", std::make_shared<LayerNorm>(hidden, eps));
  after_ = register_module("layernorm_after", std::make_shared<LayerNorm>(hidden, eps));
}

at::Tensor VitLayer::forward(const at::Tensor& x, const at::Tensor& bias) {
  bool training = is_training();
  at::Tensor h = x + apply_dropout(linear(self_->forward(before_->forward(x), bias), attn_out_),
                                   dropout_, training);
  at::Tensor m = linear(at::gelu(linear(after_->forward(h), intermediate_)), out_);
  return h + apply_dropout(m, dropout_, training);
}

Pooler::Pooler(int64_t hidden) { dense_ = register_module("dense", make_linear(hidden, hidden)); }

at::Tensor Pooler::forward(const at::Tensor& hidden_states) {
  return at::tanh(dense_(hidden_states.select(1, 0)));
}

void set_requires_grad(torch::nn::Module& module, bool requires_grad) {
  for (auto& p : module.parameters()) p.set_requires_grad(requires_grad);
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace mmaux::model
