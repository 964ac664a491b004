#pragma once
/// Dual-stream models ber-vit-concat and ber-vit-att (METHOD.md §2): a BERT-family text tower, a
/// ViT image tower and a fusion layer.
///
/// Parameter names: text.* and image.* (the towers, Hugging Face keys below them),
/// text_projection.weight and image_projection.weight (ITC, bias-free), fusion.{weight,bias},
/// cross_attention.{query,key,value}.{weight,bias} (ber-vit-att only), classifier.{weight,bias},
/// itm_head.{weight,bias}.
///
/// Vectors: t_cls and v_cls are the towers' pooler outputs. ber-vit-concat: fused =
/// ReLU(fusion([t_cls ; v_cls])). ber-vit-att: one attention head, query = the text [CLS] state,
/// keys and values = every image token (padded patches masked), scale 1/sqrt(D_text); fused =
/// ReLU(fusion([t_cls ; ctx_0])). itc_text = text_projection(t_cls), itc_image =
/// image_projection(v_cls).
///
/// image_cache layout: [b, N + 1, D_image] = the image tower's last hidden states (N tokens incl.
/// [CLS]) followed by its pooler output; row i belongs to image row i (index_select rows to pair
/// other images).

#include <memory>

#include "mmaux/config/model_options.h"
#include "mmaux/model/config.h"
#include "mmaux/model/encoders.h"
#include "mmaux/model/multimodal.h"

namespace mmaux::model {

class DualStreamModel : public MultimodalModel {
 public:
  /// config.kind is ber-vit-concat or ber-vit-att.
  DualStreamModel(const ModelArchitecture& config, const ModelOptions& options);

  Encoded encode(const ModelInput& input) override;
  at::Tensor classify(const at::Tensor& fused) override;
  at::Tensor itm_logits(const ModelInput& pairs, const at::Tensor& image_cache) override;
  int num_classes() const override { return static_cast<int>(config_.num_classes); }
  ModelKind kind() const override { return config_.kind; }
  std::string config_json() const override;

  const ModelArchitecture& config() const { return config_; }
  TextEncoder& text() { return *text_; }
  VisionEncoder& image() { return *image_; }
  std::shared_ptr<const TextEncoder> text_module() const { return text_; }
  std::shared_ptr<const VisionEncoder> image_module() const { return image_; }

 private:
  at::Tensor fuse(const EncoderOutput& text, const at::Tensor& image_states,
                  const at::Tensor& image_pooled, const at::Tensor& image_mask);

  ModelArchitecture config_;
  ModelOptions options_;
  std::shared_ptr<TextEncoder> text_;
  std::shared_ptr<VisionEncoder> image_;
  torch::nn::Linear text_projection_{nullptr}, image_projection_{nullptr}, fusion_{nullptr};
  torch::nn::Linear cross_query_{nullptr}, cross_key_{nullptr}, cross_value_{nullptr};
  torch::nn::Linear classifier_{nullptr}, itm_head_{nullptr};
};

}  // namespace mmaux::model
