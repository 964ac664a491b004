#include "mmaux/model/mmbt.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "mmaux/core/error.h"
#include "model/shape.h"

namespace mmaux::model {

namespace {

/// A framed text row [CLS] w_1..w_L [SEP] pad... split into the image block's start and end
/// tokens and the body w_1..w_L (the [SEP] and the padding masked out).
struct Frame {
  at::Tensor body_ids, body_mask, start, end;
};

Frame split_frame(const at::Tensor& ids, const at::Tensor& mask) {
  MMAUX_CHECK(ids.defined() && ids.dim() == 2 && ids.size(1) >= 2 &&
                  ids.scalar_type() == at::kLong && mask.defined() && mask.sizes() == ids.sizes(),
              "mmbt: input_ids and attention_mask must be int64 [b, L] with L >= 2 ([CLS] and "
              "[SEP]), got {} and {}",
              ids.defined() ? shape_string(ids.sizes()) : "undefined",
              mask.defined() ? shape_string(mask.sizes()) : "undefined");
  const int64_t length = ids.size(1);
  at::Tensor lengths = mask.to(at::kLong).sum(1);
  // Checked on the CPU only: on a GPU the check would synchronise every step.
  MMAUX_CHECK(!lengths.is_cpu() || lengths.numel() == 0 || lengths.min().item<int64_t>() >= 2,
              "mmbt: a text row has {} real tokens; every row needs its [CLS] and [SEP] (the "
              "image block's start and end tokens)",
              lengths.numel() ? lengths.min().item<int64_t>() : 0);
  Frame f;
  f.start = ids.select(1, 0);
  f.end = ids.gather(1, (lengths - 1).clamp_min(0).unsqueeze(1)).squeeze(1);
  at::Tensor positions = at::arange(length - 2, lengths.options()).unsqueeze(0);
  f.body_mask = positions.lt((lengths - 2).unsqueeze(1)).to(at::kLong);
  f.body_ids = ids.narrow(1, 1, length - 2) * f.body_mask;
  return f;
}

}  // namespace

MmbtModel::MmbtModel(const ModelArchitecture& config, const ModelOptions& options)
    : config_(config),
      mode_(options.mmbt_mode == MmbtMode::kPaper ? MmbtMode::kPaper : MmbtMode::kFixed) {
  MMAUX_ASSERT(config.kind == ModelKind::kMmbt, "kind {}", name_of(config.kind));
  validate(config);
  const int64_t d = config.text.hidden_size, c = config.resnet.num_features();
  transformer_ = register_module("transformer", std::make_shared<TextEncoder>(config.text));
  auto modal = register_module("modal_encoder", std::make_shared<torch::nn::Module>());
  resnet_ = modal->register_module("encoder", std::make_shared<ResNet>(config.resnet));
  modal_proj_ = modal->register_module("proj_embeddings", make_linear(c, d));
  itc_proj_ = register_module("proj_embeddings", make_linear(c, d));
  classifier_ = register_module("classifier", make_linear(d, config.num_classes));
  itm_head_ = register_module("itm_head", make_linear(d, 2));
  if (options.freeze_text) set_requires_grad(*transformer_, false);
  if (options.freeze_image) set_requires_grad(*resnet_, false);
}

std::string MmbtModel::config_json() const { return model_config_json(config_); }

at::Tensor MmbtModel::embed_and_encode(const at::Tensor& body_ids, const at::Tensor& body_mask,
                                       const at::Tensor& image_embeds, const at::Tensor& start_ids,
                                       const at::Tensor& end_ids, at::Tensor* sequence) {
  TextEmbeddings& emb = transformer_->embeddings();
  const int64_t b = body_ids.size(0);
  MMAUX_CHECK(image_embeds.dim() == 3 && image_embeds.size(0) == b &&
                  start_ids.sizes() == end_ids.sizes() && start_ids.dim() == 1 &&
                  start_ids.size(0) == b,
              "mmbt: image embeddings [b, N, C] and start/end tokens [b] must match the {} text "
              "rows, got {}, {} and {}",
              b, shape_string(image_embeds.sizes()), shape_string(start_ids.sizes()),
              shape_string(end_ids.sizes()));
  at::Tensor tokens = linear(image_embeds, modal_proj_);
  at::Tensor image = emb.embed_vectors(at::cat({emb.words().forward(start_ids).unsqueeze(1), tokens,
                                                emb.words().forward(end_ids).unsqueeze(1)},
                                               1),
                                       0);
  at::Tensor text = emb.forward(body_ids, at::ones_like(body_ids));
  at::Tensor mask = at::cat(
      {at::ones({b, image.size(1)}, body_mask.options().dtype(at::kLong)), body_mask.to(at::kLong)},
      1);
  EncoderOutput out = transformer_->encode_embedded(at::cat({image, text}, 1), mask);
  if (sequence != nullptr) *sequence = out.last_hidden_state;
  return out.pooled;
}

at::Tensor MmbtModel::fuse(const ModelInput& rows, const at::Tensor& image_embeds) {
  Frame f = split_frame(rows.input_ids, rows.attention_mask);
  return embed_and_encode(f.body_ids, f.body_mask, image_embeds, f.start, f.end, nullptr);
}

MmbtModel::Output MmbtModel::forward_mmbt(const at::Tensor& body_ids, const at::Tensor& body_mask,
                                          const at::Tensor& pixels, const at::Tensor& start_ids,
                                          const at::Tensor& end_ids) {
  Output out;
  out.image_embeds =
      resnet_->forward(pixels.to(modal_proj_->weight.scalar_type()), config_.num_image_embeds);
  out.pooled =
      embed_and_encode(body_ids, body_mask, out.image_embeds, start_ids, end_ids, &out.sequence);
  return out;
}

Encoded MmbtModel::encode(const ModelInput& input) {
  const at::Tensor pixels = input.pixels.to(modal_proj_->weight.scalar_type());
  const int64_t n = config_.num_image_embeds;
  at::Tensor embeds = resnet_->forward(pixels, n);
  Encoded e;
  e.fused = fuse(input, embeds);
  if (input.need_itc) {
    // The paper runs the ResNet a second time for ITC; on the same batch it gives the same values.
    at::Tensor image = mode_ == MmbtMode::kPaper ? resnet_->forward(pixels, n) : embeds;
    e.itc_image = linear(image.mean(1), itc_proj_);
    Frame f = split_frame(input.input_ids, input.attention_mask);
    e.itc_text = transformer_->forward(f.body_ids, f.body_mask).last_hidden_state.select(1, 0);
  }
  e.image_cache = mode_ == MmbtMode::kPaper ? e.fused : embeds;
  return e;
}

at::Tensor MmbtModel::classify(const at::Tensor& fused) {
  return classifier_(apply_dropout(fused, config_.classifier_dropout, is_training()));
}

at::Tensor MmbtModel::itm_logits(const ModelInput& pairs, const at::Tensor& image_cache) {
  const int64_t b = pairs.input_ids.size(0), n = config_.num_image_embeds;
  const at::Tensor pixels = pairs.pixels.to(modal_proj_->weight.scalar_type());
  if (mode_ == MmbtMode::kPaper) {
    MMAUX_CHECK_CONFIG(image_cache.defined() && image_cache.dim() == 2 && image_cache.size(0) == b,
                       "mmbt paper mode: the paper's ITM head sees the matched pooled output "
                       "from encode(), which exists only for random ITM pairs; use "
                       "--loss.itm-mode random or --model.mmbt-mode fixed");
    {
      // The paper's third pass: computed and discarded (it moves the BatchNorm statistics and
      // draws dropout masks), then linear_tim reads the matched pooled output.
      at::NoGradGuard no_grad;
      fuse(pairs, resnet_->forward(pixels, n));
    }
    return itm_head_(image_cache);
  }
  at::Tensor embeds = image_cache;
  if (embeds.defined()) {
    MMAUX_CHECK(embeds.dim() == 3 && embeds.size(0) == b && embeds.size(1) == n,
                "mmbt itm_logits: image_cache must be [{}, {}, C] (from encode()), got {}", b, n,
                shape_string(embeds.sizes()));
  } else {
    embeds = resnet_->forward(pixels, n);
  }
  return itm_head_(fuse(pairs, embeds));
}

}  // namespace mmaux::model
