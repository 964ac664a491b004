#pragma once
#include <string>

#include "mmaux/config/enum_names.h"

namespace mmaux {

/// model.name: the multimodal architecture (METHOD.md §2).
enum class ModelKind { kBerVitConcat, kBerVitAtt, kVilt, kMmbt, kLxmert };
template <>
struct EnumNames<ModelKind> {
  static constexpr EnumName<ModelKind> table[] = {{ModelKind::kBerVitConcat, "ber-vit-concat"},
                                                  {ModelKind::kBerVitAtt, "ber-vit-att"},
                                                  {ModelKind::kVilt, "vilt"},
                                                  {ModelKind::kMmbt, "mmbt"},
                                                  {ModelKind::kLxmert, "lxmert"}};
};

/// model.preset: the size of a randomly initialised model, smallest first.
enum class ModelPreset { kTiny, kSmall, kBerVitBase, kViltB32, kMmbtBase, kLxmertBase };
template <>
struct EnumNames<ModelPreset> {
  static constexpr EnumName<ModelPreset> table[] = {{ModelPreset::kTiny, "tiny"},
                                                    {ModelPreset::kSmall, "small"},
                                                    {ModelPreset::kBerVitBase, "ber-vit-base"},
                                                    {ModelPreset::kViltB32, "vilt-b32"},
                                                    {ModelPreset::kMmbtBase, "mmbt-base"},
                                                    {ModelPreset::kLxmertBase, "lxmert-base"}};
};

/// model.mmbt-mode: how MMBT computes its ITC and ITM inputs (README, "MMBT"). kPaper: the
/// paper's code (a second ResNet pass for ITC; the ITM pass runs but its head sees the matched
/// pooled output); kFixed: the ITM head sees the pairs' pass, ITC reuses the first ResNet pass;
/// kAuto: paper with train.paper, else fixed.
enum class MmbtMode { kAuto, kPaper, kFixed };
template <>
struct EnumNames<MmbtMode> {
  static constexpr EnumName<MmbtMode> table[] = {
      {MmbtMode::kAuto, "auto"}, {MmbtMode::kPaper, "paper"}, {MmbtMode::kFixed, "fixed"}};
};

/// model.vit-interpolation: how ViT position embeddings are resized for images of another size
/// than the checkpoint's. kScaleFactor: transformers <= 4.44 (the paper's 4.25.1), bicubic with
/// scale (grid + 0.1) / sqrt(N); kSize: transformers >= 4.45, bicubic to the target grid; kAuto:
/// scale-factor in paper mode (run_model_options), else the model directory's config.json, else
/// size.
enum class VitInterpolation { kAuto, kScaleFactor, kSize };
template <>
struct EnumNames<VitInterpolation> {
  static constexpr EnumName<VitInterpolation> table[] = {
      {VitInterpolation::kAuto, "auto"},
      {VitInterpolation::kScaleFactor, "scale-factor"},
      {VitInterpolation::kSize, "size"}};
};

/// model.itc-pooling: where the ITC text and image vectors are read from, before the projection
/// (README, "Where ITC reads from"). Dual-stream models: kPooler = each tower's pooler output,
/// tanh(dense(first token)), as the paper; kCls = the first token's last hidden state (BERT's
/// [CLS], ViT's CLS token, after ViT's final LayerNorm); kMean = the mean of the last hidden states
/// over the real positions (text: every token the attention mask keeps, [CLS] and [SEP]
/// included; image: the CLS token and every real patch). vilt: kPooler and kCls = the first state
/// of each modality's block (the paper's; ViLT's one pooler reads the joint sequence), kMean =
/// the mean over each block's real positions. mmbt and lxmert: kPooler only (their paper's
/// source); the models refuse the others at construction (ConfigError).
enum class ItcPooling { kPooler, kCls, kMean };
template <>
struct EnumNames<ItcPooling> {
  static constexpr EnumName<ItcPooling> table[] = {
      {ItcPooling::kPooler, "pooler"}, {ItcPooling::kCls, "cls"}, {ItcPooling::kMean, "mean"}};
};

/// [model] section: the user's choice of model (the architecture it resolves to is
/// model::ModelArchitecture).
struct ModelOptions {
  /// ber-vit-concat | ber-vit-att | vilt | mmbt | lxmert
  ModelKind name = ModelKind::kBerVitConcat;
  /// tiny | small | ber-vit-base | vilt-b32 | mmbt-base | lxmert-base
  ModelPreset preset = ModelPreset::kTiny;
  std::string dir;     ///< Hugging Face model directory ("" = random init)
  bool strict = true;  ///< missing/unexpected tensors are errors
  /// A model directory without weight files builds its architecture randomly initialised (logged)
  /// instead of failing. Directories written by `mmaux synth` ("mmaux_preset") never need it.
  bool allow_no_weights = false;
  VitInterpolation vit_interpolation = VitInterpolation::kAuto;  ///< auto | scale-factor | size
  double dropout = 0.05;                                         ///< classifier dropout
  bool freeze_text = false;
  bool freeze_image = false;
  bool reuse_frozen = true;  ///< reuse a frozen tower's output in the ITM pass
  /// Dropout inside the encoders (hidden and attention); < 0 keeps the config's values (BERT 0.1,
  /// ViT and ViLT 0). Set 0 for runs that must be deterministic across world sizes.
  double encoder_dropout = -1;
  MmbtMode mmbt_mode = MmbtMode::kAuto;  ///< mmbt only
  int image_embeds = 1;                  ///< mmbt: N pooled ResNet embeddings (1..9; paper 1)
  ItcPooling itc_pooling = ItcPooling::kPooler;  ///< pooler | cls | mean
  /// Not a user option: run_model_options sets it from train.paper. Models reproduce the
  /// reference code's quirks with it (lxmert: the ITC text vector is detached).
  bool paper = false;
};
}  // namespace mmaux
