#include "mmaux/model/config.h"

#include <nlohmann/json.hpp>

#include <set>

#include "mmaux/core/error.h"
#include "model/json_util.h"

namespace mmaux::model {

using nlohmann::json;

bool TextConfig::roberta_positions() const {
  static const std::set<std::string> kRoberta = {"roberta", "xlm-roberta", "camembert",
                                                 "xlm_roberta"};
  return kRoberta.count(model_type) > 0;
}

namespace {

TextConfig text_preset(ModelPreset preset) {
  TextConfig t;  // defaults: bert-base-uncased
  if (preset == ModelPreset::kTiny) {
    t.hidden_size = 128;
    t.num_hidden_layers = 2;
    t.num_attention_heads = 4;
    t.intermediate_size = 512;
    t.max_position_embeddings = 64;
  } else if (preset == ModelPreset::kSmall) {
    t.hidden_size = 256;
    t.num_hidden_layers = 4;
    t.num_attention_heads = 4;
    t.intermediate_size = 1024;
    t.max_position_embeddings = 128;
  }
  return t;
}

VisionConfig vision_preset(ModelPreset preset) {
  VisionConfig v;  // defaults: google/vit-base-patch16-224-in21k
  if (preset == ModelPreset::kTiny) {
    v.hidden_size = 128;
    v.num_hidden_layers = 2;
    v.num_attention_heads = 4;
    v.intermediate_size = 512;
    v.image_size = 64;
    v.patch_size = 16;
  } else if (preset == ModelPreset::kSmall) {
    v.hidden_size = 256;
    v.num_hidden_layers = 4;
    v.num_attention_heads = 4;
    v.intermediate_size = 1024;
    v.image_size = 128;
    v.patch_size = 16;
  }
  return v;
}

ViltConfig vilt_preset(ModelPreset preset) {
  ViltConfig v;  // defaults: dandelin/vilt-b32-mlm
  if (preset == ModelPreset::kTiny) {
    v.hidden_size = 128;
    v.num_hidden_layers = 2;
    v.num_attention_heads = 4;
    v.intermediate_size = 512;
    v.max_position_embeddings = 64;
    v.image_size = 64;
    v.patch_size = 16;
  } else if (preset == ModelPreset::kSmall) {
    v.hidden_size = 256;
    v.num_hidden_layers = 6;
    v.num_attention_heads = 4;
    v.intermediate_size = 1024;
    v.max_position_embeddings = 64;
    v.image_size = 128;
    v.patch_size = 16;
  }
  return v;
}

ResNetConfig resnet_preset(ModelPreset preset) {
  ResNetConfig r;  // ResNet-152
  if (preset == ModelPreset::kTiny) {
    r.layers = {1, 1, 1, 1};
    r.stem_width = 16;
    r.planes = {16, 32, 64, 128};
  } else if (preset == ModelPreset::kSmall) {
    r.layers = {2, 2, 2, 2};
    r.stem_width = 32;
    r.planes = {32, 64, 128, 256};
  }
  return r;
}

LxmertConfig lxmert_preset(ModelPreset preset) {
  LxmertConfig x;  // defaults: unc-nlp/lxmert-base-uncased
  if (preset == ModelPreset::kTiny) {
    x.hidden_size = 128;
    x.num_attention_heads = 4;
    x.intermediate_size = 512;
    x.max_position_embeddings = 64;
    x.l_layers = 2;
    x.r_layers = 1;
    x.x_layers = 1;
  } else if (preset == ModelPreset::kSmall) {
    x.hidden_size = 256;
    x.num_attention_heads = 4;
    x.intermediate_size = 1024;
    x.max_position_embeddings = 128;
    x.l_layers = 3;
    x.r_layers = 2;
    x.x_layers = 2;
  }
  return x;
}

void check_positive(int64_t value, const char* field) {
  MMAUX_CHECK_CONFIG(value > 0, "model config: {} = {} must be positive", field, value);
}

void check_heads(int64_t hidden, int64_t heads, const char* what) {
  check_positive(hidden, what);
  check_positive(heads, what);
  MMAUX_CHECK_CONFIG(hidden % heads == 0,
                     "model config: {} hidden_size {} is not divisible by num_attention_heads {}",
                     what, hidden, heads);
}

void check_image(int64_t image, int64_t patch, const char* what) {
  check_positive(image, what);
  check_positive(patch, what);
  MMAUX_CHECK_CONFIG(image % patch == 0,
                     "model config: {} image_size {} is not a multiple of patch_size {}", what,
                     image, patch);
}

}  // namespace

ModelArchitecture preset_config(ModelKind kind, ModelPreset preset) {
  ModelArchitecture c;
  c.kind = kind;
  c.text = text_preset(preset);
  c.vision = vision_preset(preset);
  c.vilt = vilt_preset(preset);
  c.resnet = resnet_preset(preset);
  if (kind == ModelKind::kMmbt && preset != ModelPreset::kTiny && preset != ModelPreset::kSmall) {
    c.vision.image_size = 224;  // the resnet image preset's crop
  }
  c.lxmert = lxmert_preset(preset);
  c.projection_dim = preset == ModelPreset::kTiny ? 64 : preset == ModelPreset::kSmall ? 128 : 512;
  return c;
}

void validate(const ModelArchitecture& c) {
  if (c.kind == ModelKind::kVilt) {
    const ViltConfig& v = c.vilt;
    check_heads(v.hidden_size, v.num_attention_heads, "vilt");
    check_image(v.image_size, v.patch_size, "vilt");
    check_positive(v.num_hidden_layers, "vilt num_hidden_layers");
    check_positive(v.vocab_size, "vilt vocab_size");
    check_positive(v.max_position_embeddings, "vilt max_position_embeddings");
    check_positive(v.intermediate_size, "vilt intermediate_size");
    MMAUX_CHECK_CONFIG(v.modality_type_vocab_size >= 2,
                       "model config: vilt modality_type_vocab_size = {} must be >= 2",
                       v.modality_type_vocab_size);
  } else if (c.kind == ModelKind::kMmbt) {
    check_heads(c.text.hidden_size, c.text.num_attention_heads, "text");
    check_positive(c.text.num_hidden_layers, "text num_hidden_layers");
    check_positive(c.text.vocab_size, "text vocab_size");
    check_positive(c.text.intermediate_size, "text intermediate_size");
    MMAUX_CHECK_CONFIG(c.text.type_vocab_size >= 2,
                       "model config: mmbt gives its text token type 1, but the text model's "
                       "type_vocab_size is {}; use a BERT model (RoBERTa-family models have one "
                       "type)",
                       c.text.type_vocab_size);
    MMAUX_CHECK_CONFIG(c.num_image_embeds >= 1 && c.num_image_embeds <= 9,
                       "model config: num_image_embeds {} is not in 1..9", c.num_image_embeds);
    MMAUX_CHECK_CONFIG(c.text.max_position_embeddings >= c.num_image_embeds + 2,
                       "model config: the image block needs {} positions, the text model has {}",
                       c.num_image_embeds + 2, c.text.max_position_embeddings);
    validate(c.resnet);
  } else if (c.kind == ModelKind::kLxmert) {
    const LxmertConfig& x = c.lxmert;
    check_heads(x.hidden_size, x.num_attention_heads, "lxmert");
    check_positive(x.vocab_size, "lxmert vocab_size");
    check_positive(x.max_position_embeddings, "lxmert max_position_embeddings");
    check_positive(x.type_vocab_size, "lxmert type_vocab_size");
    check_positive(x.intermediate_size, "lxmert intermediate_size");
    check_positive(x.l_layers, "lxmert l_layers");
    check_positive(x.x_layers, "lxmert x_layers");
    check_positive(x.visual_feat_dim, "lxmert visual_feat_dim");
    check_positive(x.visual_pos_dim, "lxmert visual_pos_dim");
    MMAUX_CHECK_CONFIG(x.r_layers >= 0, "model config: lxmert r_layers = {} must be >= 0",
                       x.r_layers);
  } else {
    check_heads(c.text.hidden_size, c.text.num_attention_heads, "text");
    check_heads(c.vision.hidden_size, c.vision.num_attention_heads, "vision");
    check_image(c.vision.image_size, c.vision.patch_size, "vision");
    check_positive(c.text.num_hidden_layers, "text num_hidden_layers");
    check_positive(c.vision.num_hidden_layers, "vision num_hidden_layers");
    check_positive(c.text.vocab_size, "text vocab_size");
    check_positive(c.text.max_position_embeddings, "text max_position_embeddings");
    check_positive(c.text.type_vocab_size, "text type_vocab_size");
    check_positive(c.text.intermediate_size, "text intermediate_size");
    check_positive(c.vision.intermediate_size, "vision intermediate_size");
    check_positive(c.projection_dim, "projection_dim");
  }
  check_positive(c.num_classes, "num_classes");
}

namespace {

void check_gelu(const json& j, const std::string& origin) {
  std::string act = "gelu";
  get_to(j, "hidden_act", act, origin);
  MMAUX_CHECK_DATA(act == "gelu", "{}: hidden_act '{}' is not supported; mmaux implements 'gelu'",
                   origin, act);
}

}  // namespace

TextConfig parse_text_config(const std::string& json_text, const TextConfig& base,
                             const std::string& origin) {
  json j = parse_json_object(json_text, origin);
  TextConfig t = base;
  get_to(j, "model_type", t.model_type, origin);
  get_to(j, "vocab_size", t.vocab_size, origin);
  get_to(j, "hidden_size", t.hidden_size, origin);
  get_to(j, "num_hidden_layers", t.num_hidden_layers, origin);
  get_to(j, "num_attention_heads", t.num_attention_heads, origin);
  get_to(j, "intermediate_size", t.intermediate_size, origin);
  get_to(j, "max_position_embeddings", t.max_position_embeddings, origin);
  get_to(j, "type_vocab_size", t.type_vocab_size, origin);
  get_to(j, "pad_token_id", t.pad_token_id, origin);
  get_to(j, "layer_norm_eps", t.layer_norm_eps, origin);
  get_to(j, "hidden_dropout_prob", t.hidden_dropout_prob, origin);
  get_to(j, "attention_probs_dropout_prob", t.attention_probs_dropout_prob, origin);
  check_gelu(j, origin);
  std::string positions = "absolute";
  get_to(j, "position_embedding_type", positions, origin);
  MMAUX_CHECK_DATA(positions == "absolute",
                   "{}: position_embedding_type '{}' is not supported; mmaux implements 'absolute'",
                   origin, positions);
  return t;
}

VisionConfig parse_vision_config(const std::string& json_text, const VisionConfig& base,
                                 const std::string& origin) {
  json j = parse_json_object(json_text, origin);
  VisionConfig v = base;
  get_to(j, "hidden_size", v.hidden_size, origin);
  get_to(j, "num_hidden_layers", v.num_hidden_layers, origin);
  get_to(j, "num_attention_heads", v.num_attention_heads, origin);
  get_to(j, "intermediate_size", v.intermediate_size, origin);
  get_to(j, "image_size", v.image_size, origin);
  get_to(j, "patch_size", v.patch_size, origin);
  get_to(j, "num_channels", v.num_channels, origin);
  get_to(j, "layer_norm_eps", v.layer_norm_eps, origin);
  get_to(j, "hidden_dropout_prob", v.hidden_dropout_prob, origin);
  get_to(j, "attention_probs_dropout_prob", v.attention_probs_dropout_prob, origin);
  get_to(j, "qkv_bias", v.qkv_bias, origin);
  if (j.contains("mmaux_position_interpolation")) {
    std::string mode;
    get_to(j, "mmaux_position_interpolation", mode, origin);
    auto parsed = enum_from_name<PositionInterpolation>(mode);
    MMAUX_CHECK_DATA(parsed.has_value(), "{}: mmaux_position_interpolation '{}' is not one of {}",
                     origin, mode, fmt::join(enum_names<PositionInterpolation>(), ", "));
    v.interpolation = *parsed;
  }
  check_gelu(j, origin);
  return v;
}

ViltConfig parse_vilt_config(const std::string& json_text, const ViltConfig& base,
                             const std::string& origin) {
  json j = parse_json_object(json_text, origin);
  ViltConfig v = base;
  get_to(j, "vocab_size", v.vocab_size, origin);
  get_to(j, "type_vocab_size", v.type_vocab_size, origin);
  get_to(j, "modality_type_vocab_size", v.modality_type_vocab_size, origin);
  get_to(j, "max_position_embeddings", v.max_position_embeddings, origin);
  get_to(j, "hidden_size", v.hidden_size, origin);
  get_to(j, "num_hidden_layers", v.num_hidden_layers, origin);
  get_to(j, "num_attention_heads", v.num_attention_heads, origin);
  get_to(j, "intermediate_size", v.intermediate_size, origin);
  get_to(j, "image_size", v.image_size, origin);
  get_to(j, "patch_size", v.patch_size, origin);
  get_to(j, "num_channels", v.num_channels, origin);
  get_to(j, "layer_norm_eps", v.layer_norm_eps, origin);
  get_to(j, "hidden_dropout_prob", v.hidden_dropout_prob, origin);
  get_to(j, "attention_probs_dropout_prob", v.attention_probs_dropout_prob, origin);
  get_to(j, "qkv_bias", v.qkv_bias, origin);
  check_gelu(j, origin);
  return v;
}

LxmertConfig parse_lxmert_config(const std::string& json_text, const LxmertConfig& base,
                                 const std::string& origin) {
  json j = parse_json_object(json_text, origin);
  LxmertConfig x = base;
  get_to(j, "vocab_size", x.vocab_size, origin);
  get_to(j, "hidden_size", x.hidden_size, origin);
  get_to(j, "num_attention_heads", x.num_attention_heads, origin);
  get_to(j, "intermediate_size", x.intermediate_size, origin);
  get_to(j, "max_position_embeddings", x.max_position_embeddings, origin);
  get_to(j, "type_vocab_size", x.type_vocab_size, origin);
  get_to(j, "l_layers", x.l_layers, origin);
  get_to(j, "r_layers", x.r_layers, origin);
  get_to(j, "x_layers", x.x_layers, origin);
  get_to(j, "visual_feat_dim", x.visual_feat_dim, origin);
  get_to(j, "visual_pos_dim", x.visual_pos_dim, origin);
  get_to(j, "hidden_dropout_prob", x.hidden_dropout_prob, origin);
  get_to(j, "attention_probs_dropout_prob", x.attention_probs_dropout_prob, origin);
  check_gelu(j, origin);
  return x;
}

namespace {

json text_json(const TextConfig& c) {
  return json{
      {"model_type", c.model_type},
      {"architectures", json::array({c.roberta_positions() ? "RobertaModel" : "BertModel"})},
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"intermediate_size", c.intermediate_size},
      {"max_position_embeddings", c.max_position_embeddings},
      {"type_vocab_size", c.type_vocab_size},
      {"pad_token_id", c.pad_token_id},
      {"layer_norm_eps", c.layer_norm_eps},
      {"hidden_act", "gelu"},
      {"hidden_dropout_prob", c.hidden_dropout_prob},
      {"attention_probs_dropout_prob", c.attention_probs_dropout_prob}};
}

json vision_json(const VisionConfig& c) {
  return json{{"model_type", "vit"},
              {"architectures", json::array({"ViTModel"})},
              {"hidden_size", c.hidden_size},
              {"num_hidden_layers", c.num_hidden_layers},
              {"num_attention_heads", c.num_attention_heads},
              {"intermediate_size", c.intermediate_size},
              {"image_size", c.image_size},
              {"patch_size", c.patch_size},
              {"num_channels", c.num_channels},
              {"layer_norm_eps", c.layer_norm_eps},
              {"hidden_act", "gelu"},
              {"hidden_dropout_prob", c.hidden_dropout_prob},
              {"attention_probs_dropout_prob", c.attention_probs_dropout_prob},
              {"qkv_bias", c.qkv_bias},
              {"mmaux_position_interpolation", name_of(c.interpolation)}};
}

json vilt_json(const ViltConfig& c) {
  return json{{"model_type", "vilt"},
              {"architectures", json::array({"ViltModel"})},
              {"vocab_size", c.vocab_size},
              {"type_vocab_size", c.type_vocab_size},
              {"modality_type_vocab_size", c.modality_type_vocab_size},
              {"max_position_embeddings", c.max_position_embeddings},
              {"hidden_size", c.hidden_size},
              {"num_hidden_layers", c.num_hidden_layers},
              {"num_attention_heads", c.num_attention_heads},
              {"intermediate_size", c.intermediate_size},
              {"image_size", c.image_size},
              {"patch_size", c.patch_size},
              {"num_channels", c.num_channels},
              {"layer_norm_eps", c.layer_norm_eps},
              {"hidden_act", "gelu"},
              {"hidden_dropout_prob", c.hidden_dropout_prob},
              {"attention_probs_dropout_prob", c.attention_probs_dropout_prob},
              {"qkv_bias", c.qkv_bias}};
}

json lxmert_json(const LxmertConfig& c) {
  return json{{"model_type", "lxmert"},
              {"architectures", json::array({"LxmertModel"})},
              {"vocab_size", c.vocab_size},
              {"hidden_size", c.hidden_size},
              {"num_attention_heads", c.num_attention_heads},
              {"intermediate_size", c.intermediate_size},
              {"max_position_embeddings", c.max_position_embeddings},
              {"type_vocab_size", c.type_vocab_size},
              {"l_layers", c.l_layers},
              {"r_layers", c.r_layers},
              {"x_layers", c.x_layers},
              {"visual_feat_dim", c.visual_feat_dim},
              {"visual_pos_dim", c.visual_pos_dim},
              {"layer_norm_eps", 1e-12},
              {"hidden_act", "gelu"},
              {"hidden_dropout_prob", c.hidden_dropout_prob},
              {"attention_probs_dropout_prob", c.attention_probs_dropout_prob}};
}

}  // namespace

std::string text_config_json(const TextConfig& c) { return text_json(c).dump(2); }
std::string lxmert_config_json(const LxmertConfig& c) { return lxmert_json(c).dump(2); }
std::string vision_config_json(const VisionConfig& c) { return vision_json(c).dump(2); }
std::string vilt_config_json(const ViltConfig& c) { return vilt_json(c).dump(2); }

std::string model_config_json(const ModelArchitecture& c) {
  json j{{"mmaux_model", name_of(c.kind)},
         {"num_classes", c.num_classes},
         {"classifier_dropout", c.classifier_dropout}};
  if (c.kind == ModelKind::kMmbt) {
    j["num_image_embeds"] = c.num_image_embeds;
    j["text_config"] = text_json(c.text);
    j["resnet_config"] = json::parse(resnet_config_json(c.resnet));
    j["image_size"] = c.vision.image_size;
  } else if (c.kind == ModelKind::kVilt) {
    // ViLT fields at the top level too: Hugging Face's ViltModel.from_pretrained reads this
    // directory as it is (vilt.* keys; the heads are extra).
    const json vilt = vilt_json(c.vilt);
    for (auto it = vilt.begin(); it != vilt.end(); ++it) j[it.key()] = *it;
    j["vilt_config"] = vilt;
  } else if (c.kind == ModelKind::kLxmert) {
    // LXMERT fields at the top level too: LxmertModel.from_pretrained reads this directory
    // (lxmert.* keys, heads extra).
    const json lxmert = lxmert_json(c.lxmert);
    for (auto it = lxmert.begin(); it != lxmert.end(); ++it) j[it.key()] = *it;
    j["lxmert_config"] = lxmert;
  } else {
    j["projection_dim"] = c.projection_dim;
    j["text_config"] = text_json(c.text);
    j["vision_config"] = vision_json(c.vision);
  }
  return j.dump(2);
}

ModelArchitecture parse_model_config(const std::string& json_text, const std::string& origin) {
  json j = parse_json_object(json_text, origin);
  ModelArchitecture c;
  MMAUX_CHECK_DATA(j.contains("mmaux_model"), "{}: no 'mmaux_model' key; not written by mmaux",
                   origin);
  std::string kind;
  get_to(j, "mmaux_model", kind, origin);
  auto parsed = enum_from_name<ModelKind>(kind);
  MMAUX_CHECK_DATA(parsed.has_value(), "{}: mmaux_model '{}' is not one of {}", origin, kind,
                   fmt::join(enum_names<ModelKind>(), ", "));
  c.kind = *parsed;
  get_to(j, "num_classes", c.num_classes, origin);
  get_to(j, "classifier_dropout", c.classifier_dropout, origin);
  get_to(j, "projection_dim", c.projection_dim, origin);
  auto sub = [&](const char* key) {
    MMAUX_CHECK_DATA(j.contains(key) && j[key].is_object(), "{}: '{}' missing or not an object",
                     origin, key);
    return j[key].dump();
  };
  if (c.kind == ModelKind::kMmbt) {
    get_to(j, "num_image_embeds", c.num_image_embeds, origin);
    get_to(j, "image_size", c.vision.image_size, origin);
    c.text = parse_text_config(sub("text_config"), TextConfig{}, origin + " text_config");
    c.resnet = parse_resnet_config(sub("resnet_config"), origin + " resnet_config");
  } else if (c.kind == ModelKind::kVilt) {
    c.vilt = parse_vilt_config(sub("vilt_config"), ViltConfig{}, origin + " vilt_config");
  } else if (c.kind == ModelKind::kLxmert) {
    c.lxmert = parse_lxmert_config(sub("lxmert_config"), LxmertConfig{}, origin + " lxmert_config");
  } else {
    c.text = parse_text_config(sub("text_config"), TextConfig{}, origin + " text_config");
    c.vision = parse_vision_config(sub("vision_config"), VisionConfig{}, origin + " vision_config");
  }
  validate(c);
  return c;
}

namespace {

double layer_flops(int64_t tokens, int64_t hidden, int64_t inter) {
  // q, k, v, output projections + MLP, then QK^T and AV.
  double t = static_cast<double>(tokens), h = static_cast<double>(hidden);
  return 2.0 * t * (4.0 * h * h + 2.0 * h * static_cast<double>(inter)) + 4.0 * t * t * h;
}

}  // namespace

/// One LXMERT cross layer: cross attention both ways (projections and scores), the two self
/// attentions and the two FFNs.
static double lxmert_x_flops(int64_t lt, int64_t lv, int64_t hidden, int64_t inter) {
  double t = static_cast<double>(lt), v = static_cast<double>(lv), h = static_cast<double>(hidden);
  double cross = 2.0 * (t + v) * 4.0 * h * h + 2.0 * 4.0 * t * v * h;
  return cross + layer_flops(lt, hidden, inter) + layer_flops(lv, hidden, inter);
}

double forward_flops(const ModelArchitecture& c, int64_t text_length) {
  if (c.kind == ModelKind::kMmbt) {
    const TextConfig& t = c.text;
    const double ht = static_cast<double>(t.hidden_size);
    const double features = static_cast<double>(c.resnet.num_features());
    const int64_t tokens = c.num_image_embeds + 2 + text_length;
    return resnet_flops(c.resnet, c.vision.image_size, c.vision.image_size) +
           2.0 * c.num_image_embeds * features * ht +
           t.num_hidden_layers * layer_flops(tokens, t.hidden_size, t.intermediate_size) +
           2.0 * ht * ht + 2.0 * ht * static_cast<double>(c.num_classes);
  }
  if (c.kind == ModelKind::kLxmert) {
    // 36 regions, the paper's (and the extractor's) count.
    const LxmertConfig& x = c.lxmert;
    const int64_t regions = 36;
    double h = static_cast<double>(x.hidden_size);
    double visn = 2.0 * regions * (x.visual_feat_dim + x.visual_pos_dim) * h;
    return visn + x.l_layers * layer_flops(text_length, x.hidden_size, x.intermediate_size) +
           x.r_layers * layer_flops(regions, x.hidden_size, x.intermediate_size) +
           x.x_layers * lxmert_x_flops(text_length, regions, x.hidden_size, x.intermediate_size) +
           2.0 * h * h + 2.0 * h * 2.0;
  }
  if (c.kind == ModelKind::kVilt) {
    const ViltConfig& v = c.vilt;
    int64_t patches = (v.image_size / v.patch_size) * (v.image_size / v.patch_size);
    int64_t tokens = text_length + patches + 1;
    double h = static_cast<double>(v.hidden_size);
    double patch = 2.0 * patches * v.num_channels * v.patch_size * v.patch_size * h;
    return patch + v.num_hidden_layers * layer_flops(tokens, v.hidden_size, v.intermediate_size) +
           2.0 * h * h + 2.0 * 2.0 * h * 2.0;
  }
  const TextConfig& t = c.text;
  const VisionConfig& v = c.vision;
  int64_t patches = (v.image_size / v.patch_size) * (v.image_size / v.patch_size);
  double ht = static_cast<double>(t.hidden_size), hv = static_cast<double>(v.hidden_size);
  double text = t.num_hidden_layers * layer_flops(text_length, t.hidden_size, t.intermediate_size) +
                2.0 * ht * ht;
  double image =
      2.0 * patches * v.num_channels * v.patch_size * v.patch_size * hv +
      v.num_hidden_layers * layer_flops(patches + 1, v.hidden_size, v.intermediate_size) +
      2.0 * hv * hv;
  double heads = 2.0 * (ht + hv) * c.projection_dim + 2.0 * (ht + hv) * ht + 2.0 * ht * 2.0;
  if (c.kind == ModelKind::kBerVitAtt) {
    // query of the text [CLS], keys and values of every image token, one attention row.
    heads += 2.0 * ht * ht + 2.0 * 2.0 * (patches + 1) * hv * ht + 4.0 * (patches + 1) * ht;
  }
  return text + image + heads;
}

}  // namespace mmaux::model
