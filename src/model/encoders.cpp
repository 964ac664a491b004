#include "mmaux/model/encoders.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <string>

#include "mmaux/core/error.h"

namespace mmaux::model {

namespace {

void check_ids(const at::Tensor& input_ids, const at::Tensor& attention_mask) {
  MMAUX_CHECK(input_ids.defined() && input_ids.dim() == 2 && input_ids.scalar_type() == at::kLong,
              "text encoder: input_ids must be int64 [b, L], got {}",
              input_ids.defined()
                  ? input_ids.toString() + " " + std::to_string(input_ids.dim()) + "-d"
                  : std::string("undefined"));
  MMAUX_CHECK(attention_mask.defined() && attention_mask.sizes() == input_ids.sizes(),
              "text encoder: attention_mask must have the shape of input_ids [{}, {}]",
              input_ids.size(0), input_ids.size(1));
}

}  // namespace

TextEmbeddings::TextEmbeddings(int64_t vocab, int64_t hidden, int64_t max_positions,
                               int64_t type_vocab, int64_t pad_token_id, bool roberta_positions,
                               double eps, double dropout)
    : max_positions_(max_positions),
      pad_token_id_(pad_token_id),
      roberta_positions_(roberta_positions),
      dropout_(dropout) {
  word_ = register_module("word_embeddings", std::make_shared<Embedding>(vocab, hidden));
  position_ =
      register_module("position_embeddings", std::make_shared<Embedding>(max_positions, hidden));
  token_type_ =
      register_module("token_type_embeddings", std::make_shared<Embedding>(type_vocab, hidden));
  norm_ = register_module("LayerNorm", std::make_shared<LayerNorm>(hidden, eps));
}

at::Tensor TextEmbeddings::forward(const at::Tensor& input_ids, const at::Tensor& token_type_ids) {
  const int64_t length = input_ids.size(1);
  at::Tensor positions;
  if (roberta_positions_) {
    // RoBERTa: real tokens count from pad_token_id + 1; padding keeps pad_token_id.
    at::Tensor real = input_ids.ne(pad_token_id_).to(at::kLong);
    positions = at::cumsum(real, 1) * real + pad_token_id_;
  } else {
    positions = at::arange(length, input_ids.options()).unsqueeze(0);
  }
  const int64_t needed = roberta_positions_ ? length + pad_token_id_ + 1 : length;
  MMAUX_CHECK(needed <= max_positions_,
              "text of {} tokens needs {} position embeddings but the model has {}; lower "
              "data.max-text-length",
              length, needed, max_positions_);
  // Checked on the CPU only: on a GPU the check would synchronise every step.
  MMAUX_CHECK(!input_ids.is_cpu() || input_ids.numel() == 0 ||
                  (input_ids.min().item<int64_t>() >= 0 &&
                   input_ids.max().item<int64_t>() < word_->weight().size(0)),
              "token ids must lie in [0, {}) (the model's vocab_size); got ids in [{}, {}]: the "
              "tokenizer and the model do not match",
              word_->weight().size(0), input_ids.min().item<int64_t>(),
              input_ids.max().item<int64_t>());
  at::Tensor types = at::zeros_like(input_ids);
  if (token_type_ids.defined()) {
    MMAUX_CHECK(
        token_type_ids.sizes() == input_ids.sizes() && token_type_ids.scalar_type() == at::kLong,
        "token_type_ids must be int64 with the shape of input_ids [{}, {}]", input_ids.size(0),
        input_ids.size(1));
    const int64_t n = token_type_->weight().size(0);
    MMAUX_CHECK(
        !token_type_ids.is_cpu() || token_type_ids.numel() == 0 ||
            (token_type_ids.min().item<int64_t>() >= 0 && token_type_ids.max().item<int64_t>() < n),
        "token type ids must lie in [0, {}) (the model's type_vocab_size); got [{}, {}]", n,
        token_type_ids.min().item<int64_t>(), token_type_ids.max().item<int64_t>());
    types = token_type_ids;
  }
  at::Tensor e =
      word_->forward(input_ids) + position_->forward(positions) + token_type_->forward(types);
  return apply_dropout(norm_->forward(e), dropout_, is_training());
}

at::Tensor TextEmbeddings::embed_vectors(const at::Tensor& vectors, int64_t token_type) {
  MMAUX_CHECK(vectors.dim() == 3 && vectors.size(2) == word_->weight().size(1),
              "embed_vectors: vectors must be [b, n, {}]", word_->weight().size(1));
  const int64_t n = vectors.size(1);
  MMAUX_CHECK(n <= max_positions_, "{} embedded vectors need {} positions but the model has {}", n,
              n, max_positions_);
  MMAUX_CHECK(token_type >= 0 && token_type < token_type_->weight().size(0),
              "token type {} is not below the model's type_vocab_size {}", token_type,
              token_type_->weight().size(0));
  at::Tensor e =
      vectors + position_->weight().narrow(0, 0, n) + token_type_->weight().select(0, token_type);
  return apply_dropout(norm_->forward(e), dropout_, is_training());
}

TextEncoder::TextEncoder(const TextConfig& config) : config_(config) {
  embeddings_ = register_module(
      "embeddings", std::make_shared<TextEmbeddings>(
                        config.vocab_size, config.hidden_size, config.max_position_embeddings,
                        config.type_vocab_size, config.pad_token_id, config.roberta_positions(),
                        config.layer_norm_eps, config.hidden_dropout_prob));
  auto encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  auto layer = encoder->register_module("layer", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    layers_.push_back(layer->register_module(
        std::to_string(i), std::make_shared<BertLayer>(
                               config.hidden_size, config.num_attention_heads,
                               config.intermediate_size, config.layer_norm_eps,
                               config.hidden_dropout_prob, config.attention_probs_dropout_prob)));
  }
  pooler_ = register_module("pooler", std::make_shared<Pooler>(config.hidden_size));
}

at::Tensor masked_mean(const at::Tensor& states, const at::Tensor& mask) {
  at::Tensor m = mask.to(states.scalar_type()).unsqueeze(2);
  return (states * m).sum(1) / m.sum(1).clamp_min(1);
}

at::Tensor itc_source(const EncoderOutput& out, ItcPooling pooling) {
  switch (pooling) {
    case ItcPooling::kCls:
      return out.last_hidden_state.select(1, 0);
    case ItcPooling::kMean:
      return masked_mean(out.last_hidden_state, out.mask);
    case ItcPooling::kPooler:
      break;
  }
  return out.pooled;
}

EncoderOutput TextEncoder::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                   const at::Tensor& token_type_ids) {
  check_ids(input_ids, attention_mask);
  return encode_embedded(embeddings_->forward(input_ids, token_type_ids), attention_mask);
}

EncoderOutput TextEncoder::encode_embedded(const at::Tensor& embedded, const at::Tensor& mask) {
  at::Tensor x = embedded;
  at::Tensor bias = attention_bias(mask, x.scalar_type());
  for (auto& layer : layers_) x = layer->forward(x, bias);
  return {x, pooler_->forward(x), mask};
}

PatchEmbedding::PatchEmbedding(int64_t channels, int64_t hidden, int64_t patch) : patch_(patch) {
  weight_ = register_parameter("weight", at::empty({hidden, channels, patch, patch}));
  bias_ = register_parameter("bias", at::zeros({hidden}));
  at::NoGradGuard no_grad;
  weight_.normal_(0.0, 0.02);
}

at::Tensor PatchEmbedding::forward(const at::Tensor& pixels) {
  return at::conv2d(pixels, weight_, bias_, {patch_, patch_});
}

at::Tensor PatchEmbedding::tokens(const at::Tensor& pixels) const {
  const int64_t b = pixels.size(0), c = pixels.size(1), p = patch_;
  const int64_t gh = pixels.size(2) / p, gw = pixels.size(3) / p;
  at::Tensor patches = pixels.reshape({b, c, gh, p, gw, p})
                           .permute({0, 2, 4, 1, 3, 5})
                           .reshape({b, gh * gw, c * p * p});
  return linear(patches, weight_.view({weight_.size(0), -1}), bias_);
}

at::Tensor patch_mask(const at::Tensor& pixel_mask, int64_t patch) {
  using at::indexing::None;
  using at::indexing::Slice;
  return pixel_mask.index({Slice(), Slice(None, None, patch), Slice(None, None, patch)})
      .to(at::kLong);
}

VisionEncoder::VisionEncoder(const VisionConfig& config) : config_(config) {
  const int64_t grid = config.image_size / config.patch_size;
  auto embeddings = register_module("embeddings", std::make_shared<torch::nn::Module>());
  cls_token_ = embeddings->register_parameter("cls_token", at::empty({1, 1, config.hidden_size}));
  position_embeddings_ = embeddings->register_parameter(
      "position_embeddings", at::empty({1, grid * grid + 1, config.hidden_size}));
  {
    at::NoGradGuard no_grad;
    cls_token_.normal_(0.0, 0.02);
    position_embeddings_.normal_(0.0, 0.02);
  }
  auto patch_embeddings =
      embeddings->register_module("patch_embeddings", std::make_shared<torch::nn::Module>());
  patch_ = patch_embeddings->register_module(
      "projection",
      std::make_shared<PatchEmbedding>(config.num_channels, config.hidden_size, config.patch_size));
  auto encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  auto layer = encoder->register_module("layer", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    layers_.push_back(layer->register_module(
        std::to_string(i),
        std::make_shared<VitLayer>(config.hidden_size, config.num_attention_heads,
                                   config.intermediate_size, config.layer_norm_eps,
                                   config.hidden_dropout_prob, config.attention_probs_dropout_prob,
                                   config.qkv_bias)));
  }
  final_norm_ = register_module(
      "layernorm", std::make_shared<LayerNorm>(config.hidden_size, config.layer_norm_eps));
  pooler_ = register_module("pooler", std::make_shared<Pooler>(config.hidden_size));
}

at::Tensor VisionEncoder::position_embeddings(int64_t grid_h, int64_t grid_w) const {
  const int64_t grid = config_.image_size / config_.patch_size;
  if (grid_h == grid && grid_w == grid) return position_embeddings_;
  const int64_t d = config_.hidden_size;
  at::Tensor cls = position_embeddings_.narrow(1, 0, 1);
  at::Tensor spatial = position_embeddings_.narrow(1, 1, grid * grid)
                           .reshape({1, grid, grid, d})
                           .permute({0, 3, 1, 2});
  if (config_.interpolation == PositionInterpolation::kScaleFactor) {
    // transformers <= 4.44 passes scale factors, not a size: the kernel maps output pixels back
    // with 1/scale, and the output size is trunc(grid * scale), which is grid_h again.
    const double n = std::sqrt(static_cast<double>(grid * grid));
    const std::vector<double> scales = {(static_cast<double>(grid_h) + 0.1) / n,
                                        (static_cast<double>(grid_w) + 0.1) / n};
    spatial = at::upsample_bicubic2d(spatial, c10::nullopt, false, at::ArrayRef<double>(scales));
    MMAUX_CHECK(spatial.size(2) == grid_h && spatial.size(3) == grid_w,
                "ViT position interpolation from {0}x{0} gave {1}x{2}, not {3}x{4}", grid,
                spatial.size(2), spatial.size(3), grid_h, grid_w);
  } else {
    std::vector<int64_t> size = {grid_h, grid_w};
    spatial = at::upsample_bicubic2d(spatial, size, false);
  }
  spatial = spatial.permute({0, 2, 3, 1}).reshape({1, grid_h * grid_w, d});
  return at::cat({cls, spatial}, 1);
}

EncoderOutput VisionEncoder::forward(const at::Tensor& pixels, const at::Tensor& pixel_mask) {
  MMAUX_CHECK(pixels.defined() && pixels.dim() == 4 && pixels.size(1) == config_.num_channels,
              "image encoder: pixels must be float [b, {}, H, W]", config_.num_channels);
  const int64_t p = config_.patch_size, b = pixels.size(0);
  MMAUX_CHECK(pixels.size(2) % p == 0 && pixels.size(3) % p == 0,
              "image encoder: image size {}x{} is not a multiple of the patch size {}",
              pixels.size(2), pixels.size(3), p);
  at::Tensor x = patch_->tokens(pixels.to(cls_token_.scalar_type()));  // [b, gh*gw, D]
  const int64_t gh = pixels.size(2) / p, gw = pixels.size(3) / p;
  x = at::cat({cls_token_.expand({b, 1, config_.hidden_size}), x}, 1) + position_embeddings(gh, gw);
  x = apply_dropout(x, config_.hidden_dropout_prob, is_training());
  at::Tensor mask;
  at::Tensor bias;
  if (pixel_mask.defined()) {
    MMAUX_CHECK(pixel_mask.dim() == 3 && pixel_mask.size(0) == b &&
                    pixel_mask.size(1) == pixels.size(2) && pixel_mask.size(2) == pixels.size(3),
                "image encoder: pixel_mask must be [b, H, W] = [{}, {}, {}]", b, pixels.size(2),
                pixels.size(3));
    mask = at::cat({at::ones({b, 1}, pixel_mask.options().dtype(at::kLong)),
                    patch_mask(pixel_mask, p).flatten(1)},
                   1);
    bias = attention_bias(mask, x.scalar_type());
  } else {
    mask = at::ones({b, x.size(1)}, pixels.options().dtype(at::kLong));
  }
  for (auto& layer : layers_) x = layer->forward(x, bias);
  x = final_norm_->forward(x);
  return {x, pooler_->forward(x), mask};
}

}  // namespace mmaux::model
