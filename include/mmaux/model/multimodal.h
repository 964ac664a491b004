#pragma once
/// The interface the trainer uses for every multimodal model (ber-vit-concat, ber-vit-att, vilt,
/// mmbt, lxmert).
///
/// Contract between the model, loss and train areas.

#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mmaux/config/model_options.h"

namespace mmaux::model {

/// Inputs of one forward pass (any device; dtypes as in data::Batch).
struct ModelInput {
  at::Tensor input_ids;       ///< int64 [b, L]
  at::Tensor attention_mask;  ///< int64 [b, L]
  at::Tensor pixels;          ///< float [b, 3, H, W]
  at::Tensor pixel_mask;      ///< int64 [b, H, W]
  /// int64 [b, L] segment ids of the text tokens (BERT sentence pairs; MMBT gives its text type 1);
  /// undefined = type 0 everywhere.
  at::Tensor token_type_ids{};
  /// float [b, R, F] region features (LXMERT: R <= 36 regions of F = 2048); undefined without
  /// regions.
  at::Tensor region_features{};
  /// float [b, R, 4] normalised boxes (x1, y1, x2, y2) of those regions, in [0, 1].
  at::Tensor region_boxes{};
  /// int64 [b, R]: 1 = a real region, 0 = padding.
  at::Tensor region_mask{};
  /// Whether encode() must return itc_text and itc_image; a model may skip the passes that only
  /// ITC needs when false (MMBT's text-only BERT pass and, in paper mode, its second ResNet pass).
  bool need_itc = true;
};

/// What one encode() pass returns.
struct Encoded {
  at::Tensor fused;      ///< [b, D] fused vector (classifier and ITM head input)
  at::Tensor itc_text;   ///< [b, d] text vector for ITC, before L2 normalisation
  at::Tensor itc_image;  ///< [b, d] image vector for ITC, before L2 normalisation
  /// Image tower output kept for the ITM pass when the image tower is frozen and
  /// reuse_frozen is on (undefined otherwise); model-specific layout.
  at::Tensor image_cache;
};

class MultimodalModel : public torch::nn::Module {
 public:
  /// Encodes the (text i, image i) pairs of a batch.
  virtual Encoded encode(const ModelInput& input) = 0;
  /// Class logits [b, C] from the fused vector (dropout, then the linear classifier).
  virtual at::Tensor classify(const at::Tensor& fused) = 0;
  /// ITM logits [m, 2] (index 1 = matched) for arbitrary pairs: text rows and image rows of
  /// `pairs` form the pairs row by row (a second multimodal pass). `image_cache` may hold the
  /// frozen image tower's output for these image rows (undefined: recompute).
  virtual at::Tensor itm_logits(const ModelInput& pairs, const at::Tensor& image_cache) = 0;
  virtual int num_classes() const = 0;
  /// The architecture (name_of(kind()) is its model.name).
  virtual ModelKind kind() const = 0;
  /// The config.json text that rebuilds this architecture (written by save_pretrained); "" for a
  /// model that cannot be rebuilt from a directory.
  virtual std::string config_json() const { return {}; }
};

/// Builds a model from options (preset or a Hugging Face directory) for `num_classes` classes.
///
/// options.dir:
///  - "": the preset options.preset, randomly initialised;
///  - a directory written by save_pretrained: its architecture and weights (strict unless
///    options.strict is false; a different num_classes needs strict = false and gets a new head);
///  - a Hugging Face directory (config.json + model.safetensors, model.safetensors.index.json,
///    pytorch_model.bin or pytorch_model.bin.index.json): model_type vilt for `vilt` (keys with or
///    without "vilt."), a BERT-family text model for the dual-stream models (the image tower then
///    comes from options.preset, randomly initialised);
///  - a dual-stream directory with text/ and image/ Hugging Face subdirectories;
///  - a config.json with "mmaux_preset": that preset, with vocab_size, max_position_embeddings,
///    type_vocab_size, pad_token_id, image_size and patch_size taken from the file (randomly
///    initialised unless the directory also holds weights).
/// A Hugging Face or save_pretrained directory without weights is a DataError unless
/// options.allow_no_weights (then random initialisation, logged). Random initialisation draws
/// from libtorch's global generator: seed it (at::manual_seed) identically on every rank.
/// Not collective.
std::shared_ptr<MultimodalModel> make_model(const ModelOptions& options, int num_classes);

/// Writes `dir`/model.safetensors (every parameter, named as model.named_parameters()) and
/// `dir`/config.json so that make_model with model.dir = `dir` rebuilds it bit-identically.
/// Creates `dir`; overwrites both files (written to temporary names, then renamed). Throws Error
/// when the model has no config_json(). Not collective: call it on one rank.
void save_pretrained(const MultimodalModel& model, const std::string& dir);

/// What export_towers adds to the text directory (`mmaux pretrain`: a BertForMaskedLM layout).
struct TextTowerExtras {
  /// Prepended to the text tower's keys ("bert.": BertForMaskedLM / BertForPreTraining's layout,
  /// which BertModel also loads); "" = the tower's own keys (BertModel's layout).
  std::string prefix;
  /// Written as they are besides the tower's (the MLM head's cls.predictions.*).
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  /// config.json "architectures" ("" = BertModel / RobertaModel).
  std::string architecture;
};

/// Dual-stream models only: writes `dir`/text and `dir`/image as Hugging Face BertModel /
/// RobertaModel and ViTModel directories (config.json + model.safetensors with the towers' own
/// keys), for Python tools; make_model reads such a directory back (towers only, new heads; a
/// text directory's pre-training heads such as cls.predictions.* are skipped with an info log).
/// A save_pretrained directory may hold them too (its config.json takes precedence). Throws Error
/// for vilt (its save_pretrained directory already is a ViltModel directory). Not collective.
void export_towers(const MultimodalModel& model, const std::string& dir,
                   const TextTowerExtras& text_extras = {});

}  // namespace mmaux::model
