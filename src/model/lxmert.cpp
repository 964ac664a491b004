#include "mmaux/model/lxmert.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <string>

#include "mmaux/core/error.h"
#include "model/shape.h"

namespace mmaux::model {

namespace {

constexpr double kEps = 1e-12;  // transformers' LXMERT ignores config.layer_norm_eps

std::shared_ptr<torch::nn::Module> group(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<torch::nn::Module>());
}

/// LxmertAttention + LxmertAttentionOutput: LN(x + dropout(dense(attention(x → ctx)))), with the
/// projections under `attention_name` ("att" for visual_attention, "self" for the self
/// attentions) and the output under "output".
class AttentionBlock : public torch::nn::Module {
 public:
  AttentionBlock(const LxmertConfig& c, const std::string& attention_name)
      : heads_(c.num_attention_heads),
        attention_dropout_(c.attention_probs_dropout_prob),
        dropout_(c.hidden_dropout_prob) {
    const int64_t d = c.hidden_size;
    auto att = group(*this, attention_name);
    query_ = att->register_module("query", make_linear(d, d));
    key_ = att->register_module("key", make_linear(d, d));
    value_ = att->register_module("value", make_linear(d, d));
    auto output = group(*this, "output");
    dense_ = output->register_module("dense", make_linear(d, d));
    norm_ = output->register_module("LayerNorm", std::make_shared<LayerNorm>(d, kEps));
  }

  /// x [b, Lq, D] attends to ctx [b, Lk, D]; `bias` masks ctx's keys ([b, 1, 1, Lk] or undefined).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& ctx, const at::Tensor& bias) {
    const bool training = is_training();
    at::Tensor a = multi_head_attention(linear(x, query_), linear(ctx, key_), linear(ctx, value_),
                                        bias, heads_, attention_dropout_, training);
    return norm_->forward(x + apply_dropout(linear(a, dense_), dropout_, training));
  }

 private:
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr}, dense_{nullptr};
  std::shared_ptr<LayerNorm> norm_;
  int64_t heads_;
  double attention_dropout_, dropout_;
};

/// LxmertIntermediate + LxmertOutput of one stream: `<prefix>_inter.dense` and
/// `<prefix>_output.{dense,LayerNorm}` registered on `parent`.
struct Ffn {
  Ffn(torch::nn::Module& parent, const std::string& prefix, const LxmertConfig& c)
      : dropout(c.hidden_dropout_prob) {
    inter = group(parent, prefix + "_inter")
                ->register_module("dense", make_linear(c.hidden_size, c.intermediate_size));
    auto output = group(parent, prefix + "_output");
    out = output->register_module("dense", make_linear(c.intermediate_size, c.hidden_size));
    norm = output->register_module("LayerNorm", std::make_shared<LayerNorm>(c.hidden_size, kEps));
  }
  at::Tensor forward(const at::Tensor& x, bool training) const {
    at::Tensor m = linear(at::gelu(linear(x, inter)), out);
    return norm->forward(x + apply_dropout(m, dropout, training));
  }
  torch::nn::Linear inter{nullptr}, out{nullptr};
  std::shared_ptr<LayerNorm> norm;
  double dropout;
};

}  // namespace

/// Word, position and token type embeddings (padding_idx 0 on all three), LayerNorm, dropout.
class LxmertTextEmbeddings : public torch::nn::Module {
 public:
  explicit LxmertTextEmbeddings(const LxmertConfig& c) : dropout_(c.hidden_dropout_prob) {
    const int64_t d = c.hidden_size;
    word_ = table("word_embeddings", c.vocab_size, d);
    position_ = table("position_embeddings", c.max_position_embeddings, d);
    type_ = table("token_type_embeddings", c.type_vocab_size, d);
    norm_ = register_module("LayerNorm", std::make_shared<LayerNorm>(d, kEps));
  }

  at::Tensor forward(const at::Tensor& ids, const at::Tensor& types) {
    const int64_t length = ids.size(1);
    MMAUX_CHECK(length <= position_.size(0),
                "lxmert: {} tokens but max_position_embeddings is {}; preprocess with a shorter "
                "data.max-length",
                length, position_.size(0));
    at::Tensor positions = at::arange(length, ids.options()).unsqueeze(0).expand_as(ids);
    at::Tensor t = types.defined() ? types : at::zeros_like(ids);
    // at::embedding with padding_idx 0: the backward leaves row 0 of each table without a
    // gradient, as nn.Embedding(padding_idx=0) does in transformers.
    at::Tensor x = at::embedding(word_, ids, 0) + at::embedding(position_, positions, 0) +
                   at::embedding(type_, t, 0);
    return apply_dropout(norm_->forward(x), dropout_, is_training());
  }

 private:
  at::Tensor table(const std::string& name, int64_t rows, int64_t d) {
    at::Tensor w = group(*this, name)->register_parameter("weight", at::empty({rows, d}));
    at::NoGradGuard no_grad;
    w.normal_(0.0, 0.02);
    w[0].zero_();  // transformers' _init_weights zeroes the padding row
    return w;
  }

  at::Tensor word_, position_, type_;
  std::shared_ptr<LayerNorm> norm_;
  double dropout_;
};

/// LxmertVisualFeatureEncoder: (LN(visn_fc(features)) + LN(box_fc(boxes))) / 2, dropout.
class LxmertVisualEncoder : public torch::nn::Module {
 public:
  explicit LxmertVisualEncoder(const LxmertConfig& c) : dropout_(c.hidden_dropout_prob) {
    const int64_t d = c.hidden_size;
    visn_fc_ = register_module("visn_fc", make_linear(c.visual_feat_dim, d));
    visn_norm_ = register_module("visn_layer_norm", std::make_shared<LayerNorm>(d, kEps));
    box_fc_ = register_module("box_fc", make_linear(c.visual_pos_dim, d));
    box_norm_ = register_module("box_layer_norm", std::make_shared<LayerNorm>(d, kEps));
  }

  at::Tensor forward(const at::Tensor& features, const at::Tensor& boxes) {
    at::Tensor x = visn_norm_->forward(linear(features, visn_fc_));
    at::Tensor y = box_norm_->forward(linear(boxes, box_fc_));
    return apply_dropout((x + y) / 2, dropout_, is_training());
  }

 private:
  torch::nn::Linear visn_fc_{nullptr}, box_fc_{nullptr};
  std::shared_ptr<LayerNorm> visn_norm_, box_norm_;
  double dropout_;
};

/// LxmertXLayer: cross attention both ways through the one `visual_attention` (each direction
/// reads the layer's inputs), then self attention and FFN per stream.
class LxmertXLayer : public torch::nn::Module {
 public:
  explicit LxmertXLayer(const LxmertConfig& c)
      : visual_attention_(
            register_module("visual_attention", std::make_shared<AttentionBlock>(c, "att"))),
        lang_self_(register_module("lang_self_att", std::make_shared<AttentionBlock>(c, "self"))),
        visn_self_(register_module("visn_self_att", std::make_shared<AttentionBlock>(c, "self"))),
        lang_ffn_(*this, "lang", c),
        visn_ffn_(*this, "visn", c) {}

  /// lang [b, L, D], visn [b, R, D]; biases mask the keys of each stream (or are undefined).
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& lang, const at::Tensor& lang_bias,
                                            const at::Tensor& visn, const at::Tensor& visn_bias) {
    at::Tensor l = visual_attention_->forward(lang, visn, visn_bias);
    at::Tensor v = visual_attention_->forward(visn, lang, lang_bias);
    l = lang_self_->forward(l, l, lang_bias);
    v = visn_self_->forward(v, v, visn_bias);
    const bool training = is_training();
    return {lang_ffn_.forward(l, training), visn_ffn_.forward(v, training)};
  }

 private:
  std::shared_ptr<AttentionBlock> visual_attention_, lang_self_, visn_self_;
  Ffn lang_ffn_, visn_ffn_;
};

LxmertBackbone::LxmertBackbone(const LxmertConfig& c) : config_(c) {
  embeddings_ = register_module("embeddings", std::make_shared<LxmertTextEmbeddings>(c));
  auto encoder = group(*this, "encoder");
  visn_fc_ = encoder->register_module("visn_fc", std::make_shared<LxmertVisualEncoder>(c));
  auto bert_layers = [&](const char* name, int64_t n, std::vector<std::shared_ptr<BertLayer>>& to) {
    auto list = group(*encoder, name);
    for (int64_t i = 0; i < n; ++i) {
      to.push_back(list->register_module(
          std::to_string(i), std::make_shared<BertLayer>(
                                 c.hidden_size, c.num_attention_heads, c.intermediate_size, kEps,
                                 c.hidden_dropout_prob, c.attention_probs_dropout_prob)));
    }
  };
  bert_layers("layer", c.l_layers, layers_);
  bert_layers("r_layers", c.r_layers, r_layers_);
  auto x = group(*encoder, "x_layers");
  for (int64_t i = 0; i < c.x_layers; ++i) {
    x_layers_.push_back(x->register_module(std::to_string(i), std::make_shared<LxmertXLayer>(c)));
  }
  pooler_ = register_module("pooler", std::make_shared<Pooler>(c.hidden_size));
}

void LxmertBackbone::freeze_text() {
  set_requires_grad(*embeddings_, false);
  for (auto& l : layers_) set_requires_grad(*l, false);
}

void LxmertBackbone::freeze_image() {
  set_requires_grad(*visn_fc_, false);
  for (auto& l : r_layers_) set_requires_grad(*l, false);
}

LxmertBackbone::Output LxmertBackbone::forward(const at::Tensor& input_ids,
                                               const at::Tensor& attention_mask,
                                               const at::Tensor& token_type_ids,
                                               const at::Tensor& features, const at::Tensor& boxes,
                                               const at::Tensor& visual_mask) {
  MMAUX_CHECK(input_ids.defined() && input_ids.dim() == 2 && attention_mask.defined() &&
                  attention_mask.sizes() == input_ids.sizes(),
              "lxmert: input_ids and attention_mask must be int64 [b, L] of the same shape");
  const int64_t b = input_ids.size(0);
  MMAUX_CHECK(features.defined() && boxes.defined(),
              "lxmert needs region features and boxes (ModelInput::region_features and "
              "region_boxes); preprocess the data with --region-features");
  MMAUX_CHECK(
      features.dim() == 3 && features.size(0) == b && features.size(2) == config_.visual_feat_dim,
      "lxmert: region_features must be [b = {}, R, {}] (the model's visual_feat_dim), got "
      "{}; use region features of that size, or a model directory whose config.json "
      "has the data's visual_feat_dim (mmaux synth writes one)",
      b, config_.visual_feat_dim, shape_string(features.sizes()));
  const int64_t r = features.size(1);
  MMAUX_CHECK(boxes.dim() == 3 && boxes.size(0) == b && boxes.size(1) == r &&
                  boxes.size(2) == config_.visual_pos_dim,
              "lxmert: region_boxes must be [{}, {}, {}], got {}", b, r, config_.visual_pos_dim,
              shape_string(boxes.sizes()));
  MMAUX_CHECK(!visual_mask.defined() ||
                  (visual_mask.dim() == 2 && visual_mask.size(0) == b && visual_mask.size(1) == r),
              "lxmert: region_mask must be [{}, {}], got {}", b, r,
              visual_mask.defined() ? shape_string(visual_mask.sizes()) : std::string("-"));
  at::Tensor lang = embeddings_->forward(input_ids, token_type_ids);
  const auto dtype = lang.scalar_type();
  at::Tensor visn = visn_fc_->forward(features.to(dtype), boxes.to(dtype));
  at::Tensor lang_bias = attention_bias(attention_mask, dtype);
  at::Tensor visn_bias;
  if (visual_mask.defined()) visn_bias = attention_bias(visual_mask, dtype);
  for (auto& layer : layers_) lang = layer->forward(lang, lang_bias);
  for (auto& layer : r_layers_) visn = layer->forward(visn, visn_bias);
  for (auto& layer : x_layers_)
    std::tie(lang, visn) = layer->forward(lang, lang_bias, visn, visn_bias);
  return {lang, visn, pooler_->forward(lang)};
}

LxmertModel::LxmertModel(const ModelArchitecture& config, const ModelOptions& options)
    : config_(config), detach_text_(options.paper) {
  MMAUX_ASSERT(config.kind == ModelKind::kLxmert, "kind {}", name_of(config.kind));
  validate(config);
  const int64_t d = config.lxmert.hidden_size;
  lxmert_ = register_module("lxmert", std::make_shared<LxmertBackbone>(config.lxmert));
  fusion_ = register_module("fusion", make_linear(d, d));
  classifier_ = register_module("classifier", make_linear(d, config.num_classes));
  itm_head_ = register_module("itm_head", make_linear(d, 2));
  set_requires_grad(lxmert_->pooler(), false);
  if (options.freeze_text) lxmert_->freeze_text();
  if (options.freeze_image) lxmert_->freeze_image();
}

std::string LxmertModel::config_json() const { return model_config_json(config_); }

LxmertBackbone::Output LxmertModel::run(const ModelInput& input) {
  return lxmert_->forward(input.input_ids, input.attention_mask, input.token_type_ids,
                          input.region_features, input.region_boxes, input.region_mask);
}

Encoded LxmertModel::encode(const ModelInput& input) {
  LxmertBackbone::Output out = run(input);
  // The paper fills padded positions with -1e9 before the max (models/mm_early.py l. 139-143).
  auto max_pool = [](const at::Tensor& states, const at::Tensor& mask) {
    if (!mask.defined()) return std::get<0>(states.max(1));
    at::Tensor pad = mask.eq(0).unsqueeze(2);
    return std::get<0>(states.masked_fill(pad, -1e9).max(1));
  };
  Encoded e;
  e.fused = out.language.select(1, 0);
  e.itc_text = max_pool(detach_text_ ? out.language.detach() : out.language, input.attention_mask);
  e.itc_image = max_pool(out.vision, input.region_mask);
  return e;
}

at::Tensor LxmertModel::classify(const at::Tensor& fused) {
  at::Tensor x = at::relu(fusion_(fused));
  return classifier_(apply_dropout(x, config_.classifier_dropout, is_training()));
}

at::Tensor LxmertModel::itm_logits(const ModelInput& pairs, const at::Tensor& /*image_cache*/) {
  return itm_head_(run(pairs).language.select(1, 0));
}

}  // namespace mmaux::model
