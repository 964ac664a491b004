#pragma once
/// Transformer building blocks shared by the BERT, ViT and ViLT encoders. Submodule and parameter
/// names follow Hugging Face transformers so that `named_parameters()` equals checkpoint keys.

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <cstdint>
#include <memory>

namespace mmaux::model {

/// LayerNorm over the last dimension; parameters `weight` and `bias`.
class LayerNorm : public torch::nn::Module {
 public:
  LayerNorm(int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  at::Tensor weight_, bias_;
  int64_t dim_;
  double eps_;
};

/// Embedding table; parameter `weight` [num, dim].
class Embedding : public torch::nn::Module {
 public:
  Embedding(int64_t num, int64_t dim);
  at::Tensor forward(const at::Tensor& ids) const;
  const at::Tensor& weight() const { return weight_; }

 private:
  at::Tensor weight_;
};

/// A linear layer (torch::nn::Linear) initialised like Hugging Face: N(0, 0.02), zero bias.
torch::nn::Linear make_linear(int64_t in, int64_t out, bool bias = true);

/// y = x Wᵀ + b for x [..., in]. The same values as `at::linear`, computed as one fused
/// multiply-add over the flattened rows: libtorch 1.13 runs a 3-d input as a matmul followed by
/// a separate bias pass (and a second pass in the backward).
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);
at::Tensor linear(const at::Tensor& x, const torch::nn::Linear& layer);

/// Inverted dropout: in training, zero each element with probability p and scale the others by
/// 1 / (1 − p); otherwise (or p = 0) return x unchanged.
///
/// On CPU the mask comes from a counter-based generator (a 64-bit mix of seed and element index)
/// filled in parallel; the seed is one draw from libtorch's default CPU generator, so masks follow
/// torch::manual_seed and the saved generator state exactly as at::dropout's do, and do not depend
/// on the thread count. (libtorch's own CPU Bernoulli is serial and took 7% of a small-model
/// step.) Other devices use at::dropout.
at::Tensor apply_dropout(const at::Tensor& x, double p, bool training);

/// Additive attention bias from a key mask: [b, Lk] (1 = attend, 0 = padding) →
/// [b, 1, 1, Lk] in `dtype` with 0 for kept keys and the dtype's lowest value for masked keys,
/// so that a masked key gets exactly zero weight. Undefined (no bias needed) for a CPU mask
/// without zeros.
at::Tensor attention_bias(const at::Tensor& key_mask, at::ScalarType dtype);

/// Multi-head scaled dot-product attention. q [b, Lq, D], k and v [b, Lk, D]; `bias`
/// [b, 1, 1, Lk] or undefined. `query_scaled`: q already carries the 1/sqrt(D / heads) factor.
/// Returns the context [b, Lq, D].
at::Tensor multi_head_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const at::Tensor& bias, int64_t heads, double dropout,
                                bool training, bool query_scaled = false);

/// Self-attention from the packed projection qkv = x [W_q·s; W_k; W_v]ᵀ + [b_q·s; b_k; b_v]
/// ([b, L, 3D], query already scaled by s = 1/sqrt(D / heads)); `bias` as for
/// multi_head_attention. Returns the context [b, L, D]. With `fused` (the default), float and
/// double CPU tensors use a fused kernel (src/model/attention.cpp) that gives the values of
/// multi_head_attention up to rounding; dropout masks of the two paths differ. CUDA tensors use
/// libtorch's scaled_dot_product_attention (libtorch >= 2.1), the same values up to rounding.
at::Tensor packed_self_attention(const at::Tensor& qkv, const at::Tensor& bias, int64_t heads,
                                 double dropout, bool training, bool fused = true);

/// Whether the fused CPU attention found a CBLAS in the process (else the generic path runs).
bool fused_attention_available();

/// Process-wide switch for the fused attention of SelfAttention (default on): tests compare both
/// paths and the benchmark measures what the fused kernel buys.
void set_fused_attention(bool enabled);
bool fused_attention_enabled();

/// Q, K, V projections of self-attention: submodules `query`, `key`, `value`.
class SelfAttention : public torch::nn::Module {
 public:
  SelfAttention(int64_t hidden, int64_t heads, double dropout, bool qkv_bias);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& bias);

 private:
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr};
  int64_t heads_;
  double dropout_;
};

/// Post-LayerNorm BERT block (encoder.layer.N): attention.self.{query,key,value},
/// attention.output.{dense,LayerNorm}, intermediate.dense, output.{dense,LayerNorm}.
class BertLayer : public torch::nn::Module {
 public:
  BertLayer(int64_t hidden, int64_t heads, int64_t intermediate, double eps, double hidden_dropout,
            double attention_dropout);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& bias);

 private:
  std::shared_ptr<SelfAttention> self_;
  torch::nn::Linear attn_out_{nullptr}, intermediate_{nullptr}, out_{nullptr};
  std::shared_ptr<LayerNorm> attn_norm_, out_norm_;
  double dropout_;
};

/// Pre-LayerNorm ViT block (encoder.layer.N): attention.attention.{query,key,value},
/// attention.output.dense, intermediate.dense, output.dense, layernorm_before, layernorm_after.
class VitLayer : public torch::nn::Module {
 public:
  VitLayer(int64_t hidden, int64_t heads, int64_t intermediate, double eps, double hidden_dropout,
           double attention_dropout, bool qkv_bias);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& bias);

 private:
  std::shared_ptr<SelfAttention> self_;
  torch::nn::Linear attn_out_{nullptr}, intermediate_{nullptr}, out_{nullptr};
  std::shared_ptr<LayerNorm> before_, after_;
  double dropout_;
};

/// Pooler: `dense` then tanh on the first token.
class Pooler : public torch::nn::Module {
 public:
  explicit Pooler(int64_t hidden);
  at::Tensor forward(const at::Tensor& hidden_states);

 private:
  torch::nn::Linear dense_{nullptr};
};

/// Sets requires_grad on every parameter of `module`.
void set_requires_grad(torch::nn::Module& module, bool requires_grad);

/// Number of elements of every parameter of `module`.
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace mmaux::model
