#pragma once
/// LXMERT (Tan & Bansal 2019) as in Hugging Face's LxmertModel, and the paper's `lxmert` model
/// on top of it (MMBT_LXMERT.md §3).
///
/// The backbone: text embeddings (word, position, token type, all with padding_idx 0, so rows 0
/// of the three tables never receive a gradient), the visual feature encoder
/// ((LN(visn_fc(features)) + LN(box_fc(boxes))) / 2), l_layers BERT layers over the text,
/// r_layers BERT layers over the regions, x_layers cross-modality layers (one shared
/// `visual_attention` used in both directions, then a self-attention and an FFN per stream),
/// pooler tanh(dense(language[:, 0])). Every LayerNorm has eps 1e-12 (transformers hard-codes it).
///
/// Parameter names are the checkpoint keys of unc-nlp/lxmert-base-uncased under `lxmert.`:
/// lxmert.embeddings.*, lxmert.encoder.{visn_fc,layer.N,r_layers.N,x_layers.N}.*,
/// lxmert.pooler.dense.*; heads fusion.*, classifier.* and itm_head.*.

#include <memory>
#include <vector>

#include "mmaux/config/model_options.h"
#include "mmaux/model/config.h"
#include "mmaux/model/layers.h"
#include "mmaux/model/multimodal.h"

namespace mmaux::model {

class LxmertTextEmbeddings;
class LxmertVisualEncoder;
class LxmertXLayer;

/// The LXMERT backbone (the `lxmert.` part of the checkpoints).
class LxmertBackbone : public torch::nn::Module {
 public:
  explicit LxmertBackbone(const LxmertConfig& config);

  struct Output {
    at::Tensor language;  ///< [b, L, D] language_output
    at::Tensor vision;    ///< [b, R, D] vision_output
    at::Tensor pooled;    ///< [b, D] pooled_output
  };
  /// input_ids, attention_mask int64 [b, L]; token_type_ids int64 [b, L] or undefined (all 0);
  /// features float [b, R, visual_feat_dim], boxes float [b, R, visual_pos_dim] (converted to the
  /// parameters' dtype); visual_mask int64 [b, R] or undefined (every region attended, as the
  /// paper runs it). Throws Error naming the input on a shape mismatch.
  Output forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                 const at::Tensor& token_type_ids, const at::Tensor& features,
                 const at::Tensor& boxes, const at::Tensor& visual_mask);
  const LxmertConfig& config() const { return config_; }
  /// The text side that freeze-text freezes: embeddings and the language layers.
  void freeze_text();
  /// The image side that freeze-image freezes: the visual feature encoder and relation layers.
  void freeze_image();
  torch::nn::Module& pooler() { return *pooler_; }

 private:
  LxmertConfig config_;
  std::shared_ptr<LxmertTextEmbeddings> embeddings_;
  std::shared_ptr<LxmertVisualEncoder> visn_fc_;
  std::vector<std::shared_ptr<BertLayer>> layers_, r_layers_;
  std::vector<std::shared_ptr<LxmertXLayer>> x_layers_;
  std::shared_ptr<Pooler> pooler_;
};

/// The paper's `lxmert` (models/mm_early.py, class Lxmert):
///  - fused = language_output[:, 0]; classify = classifier(dropout(relu(fusion(fused))));
///  - itc_text = max over real tokens of language_output (pads excluded), detached when
///    options.paper (the reference code takes it from a detached clone, so no gradient reaches
///    the model from the text side); itc_image = max over real regions of vision_output;
///  - ITM: itm_head(language_output[:, 0]) of a second full pass on the pairs.
/// The pooler is not used by any head: it is frozen (the reference code's AdamW skips it, as its
/// gradient is None, so it is neither updated nor decayed). image_cache is always undefined.
/// Needs ModelInput::region_features and region_boxes; region_mask is optional (all real).
class LxmertModel : public MultimodalModel {
 public:
  LxmertModel(const ModelArchitecture& config, const ModelOptions& options);

  Encoded encode(const ModelInput& input) override;
  at::Tensor classify(const at::Tensor& fused) override;
  at::Tensor itm_logits(const ModelInput& pairs, const at::Tensor& image_cache) override;
  int num_classes() const override { return static_cast<int>(config_.num_classes); }
  ModelKind kind() const override { return ModelKind::kLxmert; }
  std::string config_json() const override;

  const ModelArchitecture& config() const { return config_; }
  LxmertBackbone& backbone() { return *lxmert_; }

 private:
  LxmertBackbone::Output run(const ModelInput& input);

  ModelArchitecture config_;
  bool detach_text_;
  std::shared_ptr<LxmertBackbone> lxmert_;
  torch::nn::Linear fusion_{nullptr}, classifier_{nullptr}, itm_head_{nullptr};
};

}  // namespace mmaux::model
