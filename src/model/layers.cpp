#include "mmaux/model/layers.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <limits>

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

at::Tensor Embedding::forward(const at::Tensor& ids) const { return at::embedding(weight_, ids); }

torch::nn::Linear make_linear(int64_t in, int64_t out, bool bias) {
  torch::nn::Linear l(torch::nn::LinearOptions(in, out).bias(bias));
  normal_init(l->weight, 0.02);
  if (bias) {
    at::NoGradGuard no_grad;
    l->bias.zero_();
  }
  return l;
}

at::Tensor attention_bias(const at::Tensor& key_mask, at::ScalarType dtype) {
  at::Tensor keep = key_mask.to(at::kBool).unsqueeze(1).unsqueeze(2);
  at::Tensor zero = at::zeros({}, key_mask.options().dtype(dtype));
  at::Tensor lowest = at::full({}, -std::numeric_limits<float>::max(), zero.options());
  if (dtype == at::kDouble) lowest.fill_(-std::numeric_limits<double>::max());
  return at::where(keep, zero, lowest);
}

at::Tensor multi_head_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const at::Tensor& bias, int64_t heads, double dropout,
                                bool training) {
  const int64_t b = q.size(0), lq = q.size(1), lk = k.size(1), d = q.size(2);
  const int64_t dh = d / heads;
  auto split = [&](const at::Tensor& t, int64_t len) {
    return t.view({b, len, heads, dh}).transpose(1, 2);  // [b, h, len, dh]
  };
  at::Tensor qh = split(q, lq), kh = split(k, lk), vh = split(v, lk);
  // Scaling q before the product costs b·L·D instead of b·h·L·L multiplications.
  at::Tensor scores =
      at::matmul(qh * (1.0 / std::sqrt(static_cast<double>(dh))), kh.transpose(-1, -2));
  if (bias.defined()) scores = scores + bias;
  at::Tensor probs = at::softmax(scores, -1);
  if (training && dropout > 0) probs = at::dropout(probs, dropout, true);
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
  return multi_head_attention(query_(x), key_(x), value_(x), bias, heads_, dropout_, is_training());
}

namespace {

at::Tensor maybe_dropout(const at::Tensor& x, double p, bool training) {
  return training && p > 0 ? at::dropout(x, p, true) : x;
}

}  // namespace

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
  a = attn_norm_->forward(x + maybe_dropout(attn_out_(a), dropout_, training));
  at::Tensor m = out_(at::gelu(intermediate_(a)));
  return out_norm_->forward(a + maybe_dropout(m, dropout_, training));
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
  at::Tensor h =
      x + maybe_dropout(attn_out_(self_->forward(before_->forward(x), bias)), dropout_, training);
  at::Tensor m = out_(at::gelu(intermediate_(after_->forward(h))));
  return h + maybe_dropout(m, dropout_, training);
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
