#include "mmaux/model/dual_stream.h"

#include <ATen/ATen.h>

#include <cmath>

#include "mmaux/core/error.h"
#include "model/shape.h"

namespace mmaux::model {

DualStreamModel::DualStreamModel(const ModelArchitecture& config, const ModelOptions& options)
    : config_(config), options_(options) {
  MMAUX_ASSERT(config.kind == ModelKind::kBerVitConcat || config.kind == ModelKind::kBerVitAtt,
               "kind {}", name_of(config.kind));
  validate(config);
  const int64_t dt = config.text.hidden_size, dv = config.vision.hidden_size;
  text_ = register_module("text", std::make_shared<TextEncoder>(config.text));
  image_ = register_module("image", std::make_shared<VisionEncoder>(config.vision));
  text_projection_ =
      register_module("text_projection", make_linear(dt, config.projection_dim, false));
  image_projection_ =
      register_module("image_projection", make_linear(dv, config.projection_dim, false));
  if (config.kind == ModelKind::kBerVitAtt) {
    auto cross = register_module("cross_attention", std::make_shared<torch::nn::Module>());
    cross_query_ = cross->register_module("query", make_linear(dt, dt));
    cross_key_ = cross->register_module("key", make_linear(dv, dt));
    cross_value_ = cross->register_module("value", make_linear(dv, dt));
    fusion_ = register_module("fusion", make_linear(2 * dt, dt));
  } else {
    fusion_ = register_module("fusion", make_linear(dt + dv, dt));
  }
  classifier_ = register_module("classifier", make_linear(dt, config.num_classes));
  itm_head_ = register_module("itm_head", make_linear(dt, 2));
  if (options.freeze_text) set_requires_grad(*text_, false);
  if (options.freeze_image) set_requires_grad(*image_, false);
}

std::string DualStreamModel::config_json() const { return model_config_json(config_); }

at::Tensor DualStreamModel::fuse(const EncoderOutput& text, const at::Tensor& image_states,
                                 const at::Tensor& image_pooled, const at::Tensor& image_mask) {
  at::Tensor second = image_pooled;
  if (config_.kind == ModelKind::kBerVitAtt) {
    at::Tensor q = cross_query_(text.last_hidden_state.narrow(1, 0, 1));  // [b, 1, Dt]
    at::Tensor k = cross_key_(image_states), v = cross_value_(image_states);
    at::Tensor bias;
    if (image_mask.defined()) bias = attention_bias(image_mask, q.scalar_type());
    second = multi_head_attention(q, k, v, bias, 1, 0.0, false).select(1, 0);
  }
  return at::relu(fusion_(at::cat({text.pooled, second}, 1)));
}

Encoded DualStreamModel::encode(const ModelInput& input) {
  EncoderOutput t = text_->forward(input.input_ids, input.attention_mask, input.token_type_ids);
  EncoderOutput v = image_->forward(input.pixels, input.pixel_mask);
  Encoded out;
  out.fused = fuse(t, v.last_hidden_state, v.pooled, v.mask);
  out.itc_text = text_projection_(itc_source(t, options_.itc_pooling));
  out.itc_image = image_projection_(itc_source(v, options_.itc_pooling));
  if (options_.freeze_image && options_.reuse_frozen) {
    out.image_cache = at::cat({v.last_hidden_state, v.pooled.unsqueeze(1)}, 1).detach();
  }
  return out;
}

at::Tensor DualStreamModel::classify(const at::Tensor& fused) {
  at::Tensor x = fused;
  x = apply_dropout(x, config_.classifier_dropout, is_training());
  return classifier_(x);
}

at::Tensor DualStreamModel::itm_logits(const ModelInput& pairs, const at::Tensor& image_cache) {
  EncoderOutput t = text_->forward(pairs.input_ids, pairs.attention_mask, pairs.token_type_ids);
  if (image_cache.defined()) {
    const int64_t b = pairs.input_ids.size(0);
    MMAUX_CHECK(image_cache.dim() == 3 && image_cache.size(0) == b &&
                    image_cache.size(2) == config_.vision.hidden_size,
                "itm_logits: image_cache must be [{}, N + 1, {}] (from encode()), got {}", b,
                config_.vision.hidden_size, shape_string(image_cache.sizes()));
    const int64_t n = image_cache.size(1) - 1;
    at::Tensor mask;
    if (pairs.pixel_mask.defined()) {
      mask = at::cat({at::ones({b, 1}, pairs.pixel_mask.options().dtype(at::kLong)),
                      patch_mask(pairs.pixel_mask, config_.vision.patch_size).flatten(1)},
                     1);
      MMAUX_CHECK(mask.size(1) == n, "itm_logits: image_cache has {} tokens, pixel_mask gives {}",
                  n, mask.size(1));
    }
    return itm_head_(fuse(t, image_cache.narrow(1, 0, n), image_cache.select(1, n), mask));
  }
  EncoderOutput v = image_->forward(pairs.pixels, pairs.pixel_mask);
  return itm_head_(fuse(t, v.last_hidden_state, v.pooled, v.mask));
}

}  // namespace mmaux::model
