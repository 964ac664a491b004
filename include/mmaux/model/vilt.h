#pragma once
/// ViLT (Kim et al. 2021) as in Hugging Face's ViltModel: text embeddings and patch embeddings,
/// each plus a modality-type embedding, one pre-LN transformer over [text ; image [CLS] ;
/// patches], final LayerNorm, pooler on position 0.
///
/// Parameter names are the checkpoint keys of dandelin/vilt-b32-*:
/// vilt.embeddings.text_embeddings.*, vilt.embeddings.{cls_token, position_embeddings,
/// patch_embeddings.projection.*, token_type_embeddings}, vilt.encoder.layer.N.*, vilt.layernorm.*,
/// vilt.pooler.dense.*; heads classifier.* and itm_head.*.
///
/// Differences from Hugging Face, none of which changes an output that mmaux uses: patches stay in
/// row-major order with padded patches masked (Hugging Face moves real patches first and drops
/// padding beyond the batch's largest image; attention is permutation-invariant over keys, so the
/// text, [CLS] and pooler outputs are the same); mmaux always keeps every real patch, which is
/// Hugging Face's behaviour for max_image_length = -1, the value in the dandelin checkpoints
/// (random patch sampling for a positive max_image_length is left out).

#include <memory>
#include <vector>

#include "mmaux/config/model_options.h"
#include "mmaux/model/config.h"
#include "mmaux/model/encoders.h"
#include "mmaux/model/layers.h"
#include "mmaux/model/multimodal.h"

namespace mmaux::model {

/// The ViLT backbone (the `vilt.` part of the checkpoints).
class ViltBackbone : public torch::nn::Module {
 public:
  explicit ViltBackbone(const ViltConfig& config);

  struct Output {
    at::Tensor last_hidden_state;  ///< [b, L + 1 + P, D] (after the final LayerNorm)
    at::Tensor pooled;             ///< [b, D]
    int64_t text_length = 0;       ///< L: the image [CLS] sits at position L
    at::Tensor mask;               ///< int64 [b, L + 1 + P]: 1 = a real token or patch
  };
  /// input_ids, attention_mask int64 [b, L]; pixels [b, C, H, W] with H, W multiples of the patch
  /// size; pixel_mask int64 [b, H, W] (undefined: all real); token_type_ids int64 [b, L] or
  /// undefined (all 0).
  Output forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                 const at::Tensor& pixels, const at::Tensor& pixel_mask,
                 const at::Tensor& token_type_ids = {});
  const ViltConfig& config() const { return config_; }
  /// The text embeddings (what freeze-text freezes).
  torch::nn::Module& text_embeddings() { return *text_embeddings_; }
  /// Freezes the image embeddings: patch projection, image [CLS] and position embeddings.
  void freeze_image();

 private:
  /// Per-image position embeddings: the grid interpolated (bilinear, align_corners) to each
  /// image's real patch grid, zero on padded patches, as Hugging Face does. → [b, gh*gw, D].
  at::Tensor image_positions(const at::Tensor& grid_mask) const;

  ViltConfig config_;
  std::shared_ptr<TextEmbeddings> text_embeddings_;
  at::Tensor cls_token_, position_embeddings_;
  std::shared_ptr<PatchEmbedding> patch_;
  std::shared_ptr<Embedding> modality_;
  std::vector<std::shared_ptr<VitLayer>> layers_;
  std::shared_ptr<LayerNorm> final_norm_;
  std::shared_ptr<Pooler> pooler_;
};

/// The single-stream model `vilt`: fused = pooler output (tanh(dense(state 0))); itc_text = the
/// last-layer state at position 0, itc_image = the state at position L (the image [CLS]), no
/// projection. freeze-text freezes the text embeddings, freeze-image the image embeddings (the
/// transformer is shared); image_cache is always undefined (every ITM pass is a full pass).
class ViltModel : public MultimodalModel {
 public:
  ViltModel(const ModelArchitecture& config, const ModelOptions& options);

  Encoded encode(const ModelInput& input) override;
  at::Tensor classify(const at::Tensor& fused) override;
  at::Tensor itm_logits(const ModelInput& pairs, const at::Tensor& image_cache) override;
  int num_classes() const override { return static_cast<int>(config_.num_classes); }
  ModelKind kind() const override { return ModelKind::kVilt; }
  std::string config_json() const override;

  const ModelArchitecture& config() const { return config_; }
  ViltBackbone& backbone() { return *vilt_; }

 private:
  ModelArchitecture config_;
  ItcPooling itc_pooling_ = ItcPooling::kPooler;
  std::shared_ptr<ViltBackbone> vilt_;
  torch::nn::Linear classifier_{nullptr}, itm_head_{nullptr};
};

}  // namespace mmaux::model
