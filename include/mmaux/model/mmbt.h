#pragma once
/// MMBT (Kiela et al. 2019) as Hugging Face's MMBTModel (transformers 4.25.1, the paper's) with the
/// paper's wrapper heads (MMBT_LXMERT.md §1): one BERT over
///   [CLS] img_1 .. img_N [SEP] w_1 .. w_L
/// where img_k = modal_encoder.proj_embeddings(ResNet pooled embedding k). Both blocks share
/// BERT's word, position and token-type tables and its embedding LayerNorm; the image block has
/// positions 0..N+1 and type 0, the text restarts at position 0 with type 1; the image block is
/// never masked; fused = BERT's pooler on position 0.
///
/// Input: the text rows hold [CLS] w_1..w_L [SEP] and padding (as every mmaux tokenizer writes
/// them): the image block borrows their first and last real token as its start and end tokens
/// (the paper's `start, body, end = ids[0], ids[1:-1], ids[-1]`), the text block gets w_1..w_L.
///
/// Parameter names: transformer.* (BertModel keys), modal_encoder.encoder.* (torchvision ResNet
/// keys, BatchNorm buffers included), modal_encoder.proj_embeddings.{weight,bias}, and the paper's
/// wrapper layers proj_embeddings.{weight,bias} (ITC image projection), classifier.*, itm_head.*
/// (the paper's linear_tim).
///
/// ITC: text vector = a text-only BERT pass over w_1..w_L (type 0, no [CLS]) at position 0;
/// image vector = proj_embeddings(mean of the N pooled embeddings) — for N = 1 the paper's
/// squeeze. MmbtMode::kPaper runs a second ResNet pass for it (train-mode BatchNorm statistics
/// move twice, as in the paper); kFixed reuses the first pass (the same values and gradients).
/// Encoding is skipped when ModelInput::need_itc is false.
///
/// ITM: kFixed: itm_head(pooled output of the pairs' pass). kPaper reproduces the paper's code:
/// the pairs' pass runs (it moves BatchNorm statistics), but the head sees the matched pooled
/// output of encode() (passed as image_cache), so every pair gets the logits of its matched post;
/// it needs image_cache (random ITM): hard ITM with kPaper is a ConfigError. kFixed with random ITM
/// reuses the first pass's ResNet embeddings for the pairs (images are never swapped there).

#include <memory>

#include "mmaux/config/model_options.h"
#include "mmaux/model/config.h"
#include "mmaux/model/encoders.h"
#include "mmaux/model/multimodal.h"
#include "mmaux/model/resnet.h"

namespace mmaux::model {

class MmbtModel : public MultimodalModel {
 public:
  /// config.kind is mmbt; options give the mode (kAuto = kFixed here: run_model_options resolves
  /// it from train.paper) and the freeze flags (freeze-image freezes the ResNet).
  MmbtModel(const ModelArchitecture& config, const ModelOptions& options);

  Encoded encode(const ModelInput& input) override;
  at::Tensor classify(const at::Tensor& fused) override;
  at::Tensor itm_logits(const ModelInput& pairs, const at::Tensor& image_cache) override;
  int num_classes() const override { return static_cast<int>(config_.num_classes); }
  ModelKind kind() const override { return ModelKind::kMmbt; }
  std::string config_json() const override;

  /// MMBTModel's outputs for body word pieces (no [CLS]/[SEP]) and explicit start/end tokens.
  struct Output {
    at::Tensor sequence;      ///< [b, N + 2 + L, D]
    at::Tensor pooled;        ///< [b, D]
    at::Tensor image_embeds;  ///< [b, N, C]: the pooled ResNet embeddings (before projection)
  };
  /// body_ids, body_mask int64 [b, L]; pixels float [b, 3, H, W]; start_ids, end_ids int64 [b].
  Output forward_mmbt(const at::Tensor& body_ids, const at::Tensor& body_mask,
                      const at::Tensor& pixels, const at::Tensor& start_ids,
                      const at::Tensor& end_ids);

  const ModelArchitecture& config() const { return config_; }
  MmbtMode mode() const { return mode_; }
  TextEncoder& transformer() { return *transformer_; }
  ResNet& resnet() { return *resnet_; }
  std::shared_ptr<const TextEncoder> transformer_module() const { return transformer_; }
  std::shared_ptr<const ResNet> resnet_module() const { return resnet_; }
  /// modal_encoder.proj_embeddings.
  torch::nn::Linear& modal_projection() { return modal_proj_; }

 private:
  /// The MMBT pass over framed rows and given ResNet embeddings [b, N, C].
  at::Tensor fuse(const ModelInput& rows, const at::Tensor& image_embeds);
  at::Tensor embed_and_encode(const at::Tensor& body_ids, const at::Tensor& body_mask,
                              const at::Tensor& image_embeds, const at::Tensor& start_ids,
                              const at::Tensor& end_ids, at::Tensor* sequence);

  ModelArchitecture config_;
  MmbtMode mode_;
  std::shared_ptr<TextEncoder> transformer_;
  std::shared_ptr<ResNet> resnet_;
  torch::nn::Linear modal_proj_{nullptr}, itc_proj_{nullptr}, classifier_{nullptr},
      itm_head_{nullptr};
};

}  // namespace mmaux::model
