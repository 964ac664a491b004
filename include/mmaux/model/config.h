#pragma once
/// Architecture descriptions of the encoders and the multimodal models, the built-in presets,
/// and their mapping to and from Hugging Face `config.json` files.

#include <cstdint>
#include <string>

#include "mmaux/config/model_options.h"
#include "mmaux/model/resnet.h"

namespace mmaux::model {

/// A BERT-family text encoder (BERT, RoBERTa, XLM-R / Bernice). Field names as in Hugging Face's
/// BertConfig / RobertaConfig.
struct TextConfig {
  std::string model_type = "bert";  ///< "bert" or a RoBERTa-family type ("roberta", "xlm-roberta")
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  int64_t pad_token_id = 0;
  double layer_norm_eps = 1e-12;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;

  /// RoBERTa-family: position ids start at pad_token_id + 1 and padding keeps pad_token_id.
  bool roberta_positions() const;
};

/// How ViT position embeddings are resized for images of another size than image_size.
enum class PositionInterpolation {
  kSize,         ///< transformers >= 4.45: bicubic to the target patch grid
  kScaleFactor,  ///< transformers <= 4.44 (the paper's 4.25.1): bicubic with scale factors
                 ///< (grid + 0.1) / sqrt(N), as DINO wrote it
};

}  // namespace mmaux::model

namespace mmaux {
/// The config.json spellings of PositionInterpolation (those of model.vit-interpolation).
template <>
struct EnumNames<model::PositionInterpolation> {
  static constexpr EnumName<model::PositionInterpolation> table[] = {
      {model::PositionInterpolation::kSize, "size"},
      {model::PositionInterpolation::kScaleFactor, "scale-factor"}};
};
}  // namespace mmaux

namespace mmaux::model {

/// A ViT image encoder (Hugging Face ViTConfig).
struct VisionConfig {
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  int64_t image_size = 224;
  int64_t patch_size = 16;
  int64_t num_channels = 3;
  double layer_norm_eps = 1e-12;
  double hidden_dropout_prob = 0.0;
  double attention_probs_dropout_prob = 0.0;
  bool qkv_bias = true;
  /// config.json key "mmaux_position_interpolation", named as in EnumNames (absent in Hugging
  /// Face files: kSize); model.vit-interpolation overrides it unless auto.
  PositionInterpolation interpolation = PositionInterpolation::kSize;
};

/// ViLT (Hugging Face ViltConfig): one transformer over [text ; image].
struct ViltConfig {
  int64_t vocab_size = 30522;
  int64_t type_vocab_size = 2;
  int64_t modality_type_vocab_size = 2;
  int64_t max_position_embeddings = 40;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  int64_t image_size = 384;
  int64_t patch_size = 32;
  int64_t num_channels = 3;
  double layer_norm_eps = 1e-12;
  double hidden_dropout_prob = 0.0;
  double attention_probs_dropout_prob = 0.0;
  bool qkv_bias = true;
};

/// LXMERT (Hugging Face LxmertConfig; defaults: unc-nlp/lxmert-base-uncased). Layer norms use
/// eps 1e-12 whatever the file says: transformers hard-codes it for LXMERT.
struct LxmertConfig {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  int64_t l_layers = 9;  ///< language layers (encoder.layer.N)
  int64_t r_layers = 5;  ///< object-relation layers over the regions (encoder.r_layers.N)
  int64_t x_layers = 5;  ///< cross-modality layers (encoder.x_layers.N)
  int64_t visual_feat_dim = 2048;
  int64_t visual_pos_dim = 4;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
};

/// Everything needed to build one multimodal model: the architecture that ModelOptions (the
/// user's [model] section) resolves to, and what a saved model's config.json records.
struct ModelArchitecture {
  ModelKind kind = ModelKind::kBerVitConcat;
  TextConfig text;               ///< dual stream and mmbt
  VisionConfig vision;           ///< dual stream only (mmbt: image_size = the nominal image side)
  ViltConfig vilt;               ///< vilt only
  ResNetConfig resnet;           ///< mmbt only
  int64_t num_image_embeds = 1;  ///< mmbt: N pooled ResNet embeddings
  LxmertConfig lxmert;           ///< lxmert only
  int64_t projection_dim = 512;  ///< dual stream ITC projections (bias-free)
  int64_t num_classes = 2;
  double classifier_dropout = 0.05;
};

/// The preset `preset` for model `kind`. Dual-stream kinds get text + vision, vilt gets vilt,
/// mmbt text + resnet, lxmert gets lxmert; presets are defined for every kind (ber-vit-base used
/// with vilt gives a ViLT-B/32 shape, vilt-b32 or mmbt-base with a dual-stream kind gives the base
/// towers; mmbt-base = bert-base-uncased + ResNet-152, the tiny and small MMBT have narrow
/// ResNets; every base preset with lxmert gives the unc-nlp/lxmert-base-uncased shape).
ModelArchitecture preset_config(ModelKind kind, ModelPreset preset);

/// Parses a Hugging Face BERT/RoBERTa config.json text over `base` (missing keys keep base's
/// values). Throws DataError naming `origin` on malformed JSON or bad values.
TextConfig parse_text_config(const std::string& json_text, const TextConfig& base,
                             const std::string& origin);
/// Same for a ViT config.json.
VisionConfig parse_vision_config(const std::string& json_text, const VisionConfig& base,
                                 const std::string& origin);
/// Same for a ViLT config.json.
ViltConfig parse_vilt_config(const std::string& json_text, const ViltConfig& base,
                             const std::string& origin);

/// Same for an LXMERT config.json (model_type lxmert; l_layers, r_layers, x_layers; the
/// num_hidden_layers object transformers writes beside them is not read).
LxmertConfig parse_lxmert_config(const std::string& json_text, const LxmertConfig& base,
                                 const std::string& origin);

/// Hugging Face style config.json text for each part (what save_pretrained writes).
std::string text_config_json(const TextConfig& c);
std::string vision_config_json(const VisionConfig& c);
std::string vilt_config_json(const ViltConfig& c);
std::string lxmert_config_json(const LxmertConfig& c);
/// The whole model: {"mmaux_model": kind name, "num_classes", ..., "text_config", "vision_config"},
/// {"mmaux_model": "vilt", ..., "vilt_config"}, {"mmaux_model": "mmbt", ..., "num_image_embeds",
/// "text_config", "resnet_config"} or {"mmaux_model": "lxmert", ..., "lxmert_config"}.
std::string model_config_json(const ModelArchitecture& c);
/// Inverse of model_config_json. Throws DataError naming `origin`.
ModelArchitecture parse_model_config(const std::string& json_text, const std::string& origin);

/// Forward FLOPs per sample (2 × multiply-adds of the matmuls and the convolutions;
/// element-wise work not counted) for text length `text_length` at the config's image size (mmbt:
/// vision.image_size, one ResNet pass and one BERT pass over N + 2 + text_length tokens). Forward
/// + backward is about 3× this.
double forward_flops(const ModelArchitecture& c, int64_t text_length);

/// Checks the invariants (positive sizes, hidden divisible by heads, image divisible by patch);
/// throws ConfigError naming the field.
void validate(const ModelArchitecture& c);

}  // namespace mmaux::model
