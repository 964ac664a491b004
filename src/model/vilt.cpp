#include "mmaux/model/vilt.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <map>
#include <utility>

#include "mmaux/core/error.h"

namespace mmaux::model {

ViltBackbone::ViltBackbone(const ViltConfig& config) : config_(config) {
  const int64_t d = config.hidden_size, grid = config.image_size / config.patch_size;
  auto embeddings = register_module("embeddings", std::make_shared<torch::nn::Module>());
  text_embeddings_ = embeddings->register_module(
      "text_embeddings",
      std::make_shared<TextEmbeddings>(config.vocab_size, d, config.max_position_embeddings,
                                       config.type_vocab_size, 0, false, config.layer_norm_eps,
                                       config.hidden_dropout_prob));
  cls_token_ = embeddings->register_parameter("cls_token", at::empty({1, 1, d}));
  position_embeddings_ =
      embeddings->register_parameter("position_embeddings", at::empty({1, grid * grid + 1, d}));
  {
    at::NoGradGuard no_grad;
    cls_token_.normal_(0.0, 0.02);
    position_embeddings_.normal_(0.0, 0.02);
  }
  patch_ = embeddings->register_module("patch_embeddings", std::make_shared<torch::nn::Module>())
               ->register_module("projection", std::make_shared<PatchEmbedding>(
                                                   config.num_channels, d, config.patch_size));
  modality_ = embeddings->register_module(
      "token_type_embeddings", std::make_shared<Embedding>(config.modality_type_vocab_size, d));
  auto layer = register_module("encoder", std::make_shared<torch::nn::Module>())
                   ->register_module("layer", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    layers_.push_back(layer->register_module(
        std::to_string(i),
        std::make_shared<VitLayer>(d, config.num_attention_heads, config.intermediate_size,
                                   config.layer_norm_eps, config.hidden_dropout_prob,
                                   config.attention_probs_dropout_prob, config.qkv_bias)));
  }
  final_norm_ = register_module("layernorm", std::make_shared<LayerNorm>(d, config.layer_norm_eps));
  pooler_ = register_module("pooler", std::make_shared<Pooler>(d));
}

at::Tensor ViltBackbone::image_positions(const at::Tensor& grid_mask) const {
  const int64_t b = grid_mask.size(0), gh = grid_mask.size(1), gw = grid_mask.size(2);
  const int64_t d = config_.hidden_size, grid = config_.image_size / config_.patch_size;
  at::Tensor spatial =
      position_embeddings_.narrow(1, 1, grid * grid).transpose(1, 2).reshape({1, d, grid, grid});
  // Real rows / columns per image, counted like Hugging Face (first column, first row).
  at::Tensor heights = grid_mask.select(2, 0).sum(1).cpu();
  at::Tensor widths = grid_mask.select(1, 0).sum(1).cpu();
  std::map<std::pair<int64_t, int64_t>, at::Tensor> by_size;
  std::vector<at::Tensor> rows;
  rows.reserve(b);
  for (int64_t i = 0; i < b; ++i) {
    std::pair<int64_t, int64_t> hw{heights[i].item<int64_t>(), widths[i].item<int64_t>()};
    auto it = by_size.find(hw);
    if (it == by_size.end()) {
      at::Tensor pos = spatial;
      if (hw.first != grid || hw.second != grid) {
        std::vector<int64_t> size = {hw.first, hw.second};
        pos = hw.first > 0 && hw.second > 0
                  ? at::upsample_bilinear2d(spatial, size, true)
                  : at::zeros({1, d, hw.first, hw.second}, spatial.options());
      }
      pos = at::constant_pad_nd(pos, {0, gw - hw.second, 0, gh - hw.first});
      it = by_size.emplace(hw, pos.flatten(2).transpose(1, 2)).first;
    }
    rows.push_back(it->second);
  }
  return at::cat(rows, 0);
}

void ViltBackbone::freeze_image() {
  set_requires_grad(*patch_, false);
  cls_token_.set_requires_grad(false);
  position_embeddings_.set_requires_grad(false);
}

ViltBackbone::Output ViltBackbone::forward(const at::Tensor& input_ids,
                                           const at::Tensor& attention_mask,
                                           const at::Tensor& pixels, const at::Tensor& pixel_mask,
                                           const at::Tensor& token_type_ids) {
  MMAUX_CHECK(input_ids.defined() && input_ids.dim() == 2 && attention_mask.defined() &&
                  attention_mask.sizes() == input_ids.sizes(),
              "vilt: input_ids and attention_mask must be int64 [b, L] of the same shape");
  MMAUX_CHECK(pixels.defined() && pixels.dim() == 4 && pixels.size(0) == input_ids.size(0) &&
                  pixels.size(1) == config_.num_channels,
              "vilt: pixels must be [b, {}, H, W] with b = {} (the text batch)",
              config_.num_channels, input_ids.size(0));
  const int64_t b = input_ids.size(0), length = input_ids.size(1), d = config_.hidden_size;
  const int64_t p = config_.patch_size;
  MMAUX_CHECK(pixels.size(2) % p == 0 && pixels.size(3) % p == 0,
              "vilt: image size {}x{} is not a multiple of the patch size {}", pixels.size(2),
              pixels.size(3), p);
  at::Tensor text = text_embeddings_->forward(input_ids, token_type_ids);
  at::Tensor x = patch_->tokens(pixels.to(cls_token_.scalar_type()));  // [b, gh*gw, D]
  const int64_t gh = pixels.size(2) / p, gw = pixels.size(3) / p;
  at::Tensor grid_mask;
  if (pixel_mask.defined()) {
    MMAUX_CHECK(pixel_mask.dim() == 3 && pixel_mask.size(0) == b &&
                    pixel_mask.size(1) == pixels.size(2) && pixel_mask.size(2) == pixels.size(3),
                "vilt: pixel_mask must be [b, H, W] = [{}, {}, {}]", b, pixels.size(2),
                pixels.size(3));
    grid_mask = patch_mask(pixel_mask, p);
  } else {
    grid_mask = at::ones({b, gh, gw}, input_ids.options());
  }
  at::Tensor image = x + image_positions(grid_mask);
  at::Tensor cls = cls_token_ + position_embeddings_.narrow(1, 0, 1);
  image = at::cat({cls.expand({b, 1, d}), image}, 1);
  image = apply_dropout(image, config_.hidden_dropout_prob, is_training());
  const at::Tensor& modality = modality_->weight();
  text = text + modality.select(0, 0);
  image = image + modality.select(0, 1);
  at::Tensor h = at::cat({text, image}, 1);
  at::Tensor mask = at::cat({attention_mask.to(at::kLong), at::ones({b, 1}, input_ids.options()),
                             grid_mask.flatten(1).to(at::kLong)},
                            1);
  at::Tensor bias = attention_bias(mask, h.scalar_type());
  for (auto& layer : layers_) h = layer->forward(h, bias);
  h = final_norm_->forward(h);
  return {h, pooler_->forward(h), length, mask};
}

ViltModel::ViltModel(const ModelArchitecture& config, const ModelOptions& options)
    : config_(config), itc_pooling_(options.itc_pooling) {
  MMAUX_ASSERT(config.kind == ModelKind::kVilt, "kind {}", name_of(config.kind));
  validate(config);
  vilt_ = register_module("vilt", std::make_shared<ViltBackbone>(config.vilt));
  classifier_ =
      register_module("classifier", make_linear(config.vilt.hidden_size, config.num_classes));
  itm_head_ = register_module("itm_head", make_linear(config.vilt.hidden_size, 2));
  if (options.freeze_text) set_requires_grad(vilt_->text_embeddings(), false);
  if (options.freeze_image) vilt_->freeze_image();
}

std::string ViltModel::config_json() const { return model_config_json(config_); }

Encoded ViltModel::encode(const ModelInput& input) {
  auto out = vilt_->forward(input.input_ids, input.attention_mask, input.pixels, input.pixel_mask,
                            input.token_type_ids);
  Encoded e;
  e.fused = out.pooled;
  if (itc_pooling_ == ItcPooling::kMean) {
    const int64_t l = out.text_length, all = out.last_hidden_state.size(1);
    e.itc_text = masked_mean(out.last_hidden_state.narrow(1, 0, l), out.mask.narrow(1, 0, l));
    e.itc_image =
        masked_mean(out.last_hidden_state.narrow(1, l, all - l), out.mask.narrow(1, l, all - l));
  } else {  // pooler and cls: each block's first state (ViLT has no per-modality pooler)
    e.itc_text = out.last_hidden_state.select(1, 0);
    e.itc_image = out.last_hidden_state.select(1, out.text_length);
  }
  return e;
}

at::Tensor ViltModel::classify(const at::Tensor& fused) {
  at::Tensor x = fused;
  x = apply_dropout(x, config_.classifier_dropout, is_training());
  return classifier_(x);
}

at::Tensor ViltModel::itm_logits(const ModelInput& pairs, const at::Tensor& /*image_cache*/) {
  auto out = vilt_->forward(pairs.input_ids, pairs.attention_mask, pairs.pixels, pairs.pixel_mask,
                            pairs.token_type_ids);
  return itm_head_(out.pooled);
}

}  // namespace mmaux::model
