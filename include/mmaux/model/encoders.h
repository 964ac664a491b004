#pragma once
/// The text encoder (BERT / RoBERTa family) and the image encoder (ViT). Their `named_parameters()`
/// are the Hugging Face checkpoint keys of BertModel / RobertaModel / ViTModel (without a
/// "bert." / "roberta." / "vit." prefix).

#include <torch/nn/module.h>

#include <memory>
#include <vector>

#include "mmaux/model/config.h"
#include "mmaux/model/layers.h"

namespace mmaux::model {

/// What an encoder returns.
struct EncoderOutput {
  at::Tensor last_hidden_state;  ///< [b, L, D]
  at::Tensor pooled;             ///< [b, D]: tanh(dense(last_hidden_state[:, 0]))
  at::Tensor mask;               ///< int64 [b, L]: 1 = real token or patch
};

/// Mean of `states` [b, L, D] over the positions where `mask` int64 [b, L] is 1 (a row without any
/// gives zeros).
at::Tensor masked_mean(const at::Tensor& states, const at::Tensor& mask);

/// The vector ITC reads from a tower's output (model.itc-pooling, config/model_options.h):
/// `pooled`, last_hidden_state[:, 0] or masked_mean(last_hidden_state, mask).
at::Tensor itc_source(const EncoderOutput& out, ItcPooling pooling);

/// Word + position + token type embeddings, LayerNorm, dropout (`embeddings.*`).
class TextEmbeddings : public torch::nn::Module {
 public:
  /// `roberta_positions`: position ids count real tokens from pad_token_id + 1 (RoBERTa family);
  /// otherwise 0, 1, 2, ... (BERT).
  TextEmbeddings(int64_t vocab, int64_t hidden, int64_t max_positions, int64_t type_vocab,
                 int64_t pad_token_id, bool roberta_positions, double eps, double dropout);
  /// input_ids int64 [b, L] → [b, L, D]. token_type_ids int64 [b, L] with values below
  /// type_vocab_size, or undefined (type 0 for every token).
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids = {});
  /// Embeddings of vectors that stand in for word embeddings (MMBT's image block): vectors
  /// [b, n, D] + position embeddings 0..n-1 + the type `token_type` embedding, LayerNorm,
  /// dropout. n must not exceed max_positions.
  at::Tensor embed_vectors(const at::Tensor& vectors, int64_t token_type);
  /// The word table (`word_embeddings`).
  const Embedding& words() const { return *word_; }

 private:
  std::shared_ptr<Embedding> word_, position_, token_type_;
  std::shared_ptr<LayerNorm> norm_;
  int64_t max_positions_, pad_token_id_;
  bool roberta_positions_;
  double dropout_;
};

/// BERT-family encoder: embeddings, encoder.layer.N (post-LN), pooler.
class TextEncoder : public torch::nn::Module {
 public:
  explicit TextEncoder(const TextConfig& config);
  /// input_ids, attention_mask int64 [b, L] (same device); token_type_ids int64 [b, L] or
  /// undefined (all 0). Padding (mask 0) is never attended to.
  EncoderOutput forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                        const at::Tensor& token_type_ids = {});
  /// The encoder layers and the pooler over embeddings the caller built: x [b, L, D], mask int64
  /// [b, L] (1 = attend). forward() = this over embeddings()->forward(...).
  EncoderOutput encode_embedded(const at::Tensor& x, const at::Tensor& mask);
  TextEmbeddings& embeddings() { return *embeddings_; }
  const TextConfig& config() const { return config_; }

 private:
  TextConfig config_;
  std::shared_ptr<TextEmbeddings> embeddings_;
  std::vector<std::shared_ptr<BertLayer>> layers_;
  std::shared_ptr<Pooler> pooler_;
};

/// ViT patch embedding (`embeddings.patch_embeddings.projection`, a stride-p convolution).
class PatchEmbedding : public torch::nn::Module {
 public:
  PatchEmbedding(int64_t channels, int64_t hidden, int64_t patch);
  /// [b, C, H, W] → [b, D, H/p, W/p] (the convolution).
  at::Tensor forward(const at::Tensor& pixels);
  /// [b, C, H, W] → patch tokens [b, (H/p)·(W/p), D] in row-major grid order: the same values
  /// as forward(...).flatten(2).transpose(1, 2), computed as one GEMM over the unfolded patches
  /// (on a CPU, libtorch's convolution went through oneDNN and a second thread pool).
  at::Tensor tokens(const at::Tensor& pixels) const;

 private:
  at::Tensor weight_, bias_;
  int64_t patch_;
};

/// The patch mask of a pixel mask: [b, H, W] → int64 [b, H/p, W/p], 1 where the patch's top-left
/// pixel is real (what nearest-neighbour downsampling gives; patches are wholly real or padding
/// when images are padded to multiples of p).
at::Tensor patch_mask(const at::Tensor& pixel_mask, int64_t patch);

/// ViT encoder: embeddings.{cls_token, position_embeddings, patch_embeddings.projection},
/// encoder.layer.N (pre-LN), layernorm, pooler.
class VisionEncoder : public torch::nn::Module {
 public:
  explicit VisionEncoder(const VisionConfig& config);
  /// pixels float [b, C, H, W] with H, W multiples of patch_size (other sizes than image_size
  /// interpolate the position embeddings, bicubic); pixel_mask int64 [b, H, W] or undefined
  /// (all real). Patches whose pixels are padding are never attended to.
  EncoderOutput forward(const at::Tensor& pixels, const at::Tensor& pixel_mask);
  const VisionConfig& config() const { return config_; }

 private:
  at::Tensor position_embeddings(int64_t grid_h, int64_t grid_w) const;

  VisionConfig config_;
  at::Tensor cls_token_, position_embeddings_;
  std::shared_ptr<PatchEmbedding> patch_;
  std::vector<std::shared_ptr<VitLayer>> layers_;
  std::shared_ptr<LayerNorm> final_norm_;
  std::shared_ptr<Pooler> pooler_;
};

}  // namespace mmaux::model
