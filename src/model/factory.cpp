// make_model and save_pretrained: which directory layout means what (see multimodal.h).
#include <filesystem>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/log.h"
#include "mmaux/model/dual_stream.h"
#include "mmaux/model/lxmert.h"
#include "mmaux/model/mmbt.h"
#include "mmaux/model/multimodal.h"
#include "mmaux/model/safetensors.h"
#include "mmaux/model/state_dict.h"
#include "mmaux/model/vilt.h"
#include "model/json_util.h"

namespace mmaux::model {

namespace fs = std::filesystem;

namespace {

bool is_text_type(const std::string& t) {
  return t == "bert" || t == "roberta" || t == "xlm-roberta" || t == "xlm_roberta" ||
         t == "camembert";
}

// Keys of pre-training heads and buffers that fine-tuning never uses.
const std::vector<std::string> kTextIgnore = {"cls.",
                                              "lm_head.",
                                              "classifier.",
                                              "qa_outputs.",
                                              "embeddings.position_ids",
                                              "embeddings.token_type_ids"};
const std::vector<std::string> kTextPrefixes = {"bert.", "roberta.", "model."};
const std::vector<std::string> kVisionIgnore = {"classifier.", "embeddings.mask_token"};
const std::vector<std::string> kVisionPrefixes = {"vit.", "model."};
const std::vector<std::string> kViltIgnore = {"mlm_score.", "itm_score.", "classifier.",
                                              "embeddings.text_embeddings.position_ids",
                                              "embeddings.text_embeddings.token_type_ids"};
// ViltForMaskedLM & co. save the backbone under "vilt."; ViltModel.save_pretrained without it.
const std::vector<std::string> kViltPrefixes = {"vilt."};
// LxmertForPreTraining / LxmertForQuestionAnswering: backbone under "lxmert." plus these heads
// (LxmertModel.save_pretrained has neither); listed in the log as skipped.
const std::vector<std::string> kLxmertIgnore = {"cls.", "obj_predict_head.", "answer_head.",
                                                "embeddings.position_ids"};
const std::vector<std::string> kLxmertPrefixes = {"lxmert."};

/// A directory that should hold weights but holds none mmaux reads: an error unless the user
/// opted in, and always when it holds another framework's weights (never a silent replacement).
void no_weights(const std::string& dir, const ModelOptions& o) {
  if (!o.allow_no_weights || !foreign_weight_files(dir).empty()) {
    read_hf_weights(dir);  // throws, naming what it looked for
  }
  log_warn("model",
           "'{}' holds no weights: its architecture is randomly initialised "
           "(model.allow-no-weights)",
           dir);
}

void load_tower(torch::nn::Module& tower, const std::string& dir,
                const std::vector<std::string>& prefixes, const std::vector<std::string>& ignore,
                const ModelOptions& o) {
  if (!has_hf_weights(dir)) {
    no_weights(dir, o);
    return;
  }
  LoadRules rules;
  rules.strict = o.strict;
  rules.ignore = ignore;
  // RoBERTa MLM checkpoints have no pooler; the heads are new: initialised, logged.
  rules.may_miss = {"pooler.", "classifier.", "itm_head."};
  load_state_dict(tower, normalize_hf_keys(read_hf_weights(dir), prefixes, dir), rules,
                  hf_weights_file(dir));
}

/// The preset named by "mmaux_preset" with the shape keys of the file applied.
ModelArchitecture preset_with_overrides(ModelKind kind, const nlohmann::json& j,
                                        const std::string& origin) {
  std::string name;
  get_to(j, "mmaux_preset", name, origin);
  auto preset = enum_from_name<ModelPreset>(name);
  MMAUX_CHECK_DATA(preset.has_value(), "{}: mmaux_preset '{}' is not one of {}", origin, name,
                   fmt::join(enum_names<ModelPreset>(), ", "));
  ModelArchitecture c = preset_config(kind, *preset);
  get_to(j, "model_type", c.text.model_type, origin);
  if (!is_text_type(c.text.model_type)) c.text.model_type = "bert";
  for (int64_t* field : {&c.text.vocab_size, &c.vilt.vocab_size, &c.lxmert.vocab_size}) {
    get_to(j, "vocab_size", *field, origin);
  }
  for (int64_t* field : {&c.text.max_position_embeddings, &c.vilt.max_position_embeddings,
                         &c.lxmert.max_position_embeddings}) {
    get_to(j, "max_position_embeddings", *field, origin);
  }
  for (int64_t* field :
       {&c.text.type_vocab_size, &c.vilt.type_vocab_size, &c.lxmert.type_vocab_size}) {
    get_to(j, "type_vocab_size", *field, origin);
  }
  get_to(j, "pad_token_id", c.text.pad_token_id, origin);
  // Synthetic region features (mmaux synth --region-feature-dim) may be narrower than 2048.
  get_to(j, "visual_feat_dim", c.lxmert.visual_feat_dim, origin);
  for (int64_t* field : {&c.vision.image_size, &c.vilt.image_size}) {
    get_to(j, "image_size", *field, origin);
  }
  for (int64_t* field : {&c.vision.patch_size, &c.vilt.patch_size}) {
    get_to(j, "patch_size", *field, origin);
  }
  return c;
}

void apply_options(ModelArchitecture& c, const ModelOptions& o, int num_classes) {
  // mmbt and lxmert read ITC from their paper's own places (no tower pooler to choose against).
  const bool any_pooling = c.kind != ModelKind::kMmbt && c.kind != ModelKind::kLxmert;
  MMAUX_CHECK_CONFIG(any_pooling || o.itc_pooling == ItcPooling::kPooler,
                     "option 'model.itc-pooling': '{}' is not supported by {} (only 'pooler', its "
                     "paper's ITC source); cls and mean are supported by ber-vit-concat, "
                     "ber-vit-att and vilt",
                     name_of(o.itc_pooling), name_of(c.kind));
  c.num_classes = num_classes;
  switch (o.vit_interpolation) {
    case VitInterpolation::kAuto:
      break;  // config.json's value, or kSize
    case VitInterpolation::kScaleFactor:
      c.vision.interpolation = PositionInterpolation::kScaleFactor;
      break;
    case VitInterpolation::kSize:
      c.vision.interpolation = PositionInterpolation::kSize;
      break;
  }
  c.classifier_dropout = o.dropout;
  if (c.kind == ModelKind::kMmbt) c.num_image_embeds = o.image_embeds;
  if (o.encoder_dropout >= 0) {
    c.text.hidden_dropout_prob = c.text.attention_probs_dropout_prob = o.encoder_dropout;
    c.vision.hidden_dropout_prob = c.vision.attention_probs_dropout_prob = o.encoder_dropout;
    c.vilt.hidden_dropout_prob = c.vilt.attention_probs_dropout_prob = o.encoder_dropout;
    c.lxmert.hidden_dropout_prob = c.lxmert.attention_probs_dropout_prob = o.encoder_dropout;
  }
  validate(c);
}

std::shared_ptr<MultimodalModel> build(const ModelArchitecture& c, const ModelOptions& o) {
  if (c.kind == ModelKind::kVilt) return std::make_shared<ViltModel>(c, o);
  if (c.kind == ModelKind::kMmbt) return std::make_shared<MmbtModel>(c, o);
  if (c.kind == ModelKind::kLxmert) return std::make_shared<LxmertModel>(c, o);
  return std::make_shared<DualStreamModel>(c, o);
}

/// The BERT-family text tower of a dual-stream or MMBT model.
torch::nn::Module& text_tower(MultimodalModel& model) {
  if (auto* mmbt = dynamic_cast<MmbtModel*>(&model)) return mmbt->transformer();
  return static_cast<DualStreamModel&>(model).text();
}

/// An MMBT directory: text/ (a BERT directory), image/ (a ResNet directory: config.json and
/// torchvision / timm weights) and optionally modal_proj.safetensors
/// (modal_encoder.proj_embeddings.*; the paper initialises it randomly, so without the file it is).
std::shared_ptr<MultimodalModel> from_mmbt_directory(const ModelOptions& o, int num_classes) {
  const fs::path root(o.dir);
  const fs::path text_config = root / "text" / "config.json";
  const fs::path image_config = root / "image" / "config.json";
  ModelArchitecture c = preset_config(ModelKind::kMmbt, o.preset);
  c.text =
      parse_text_config(read_whole_file(text_config.string()), TextConfig{}, text_config.string());
  MMAUX_CHECK_CONFIG(fs::exists(image_config),
                     "{} is missing: an MMBT directory's image/ is a ResNet directory "
                     "(config.json with layers/planes/stem_width or timm's architecture, and "
                     "model.safetensors or pytorch_model.bin)",
                     image_config.string());
  c.resnet = parse_resnet_config(read_whole_file(image_config.string()), image_config.string());
  apply_options(c, o, num_classes);
  auto model = std::make_shared<MmbtModel>(c, o);
  load_tower(model->transformer(), (root / "text").string(), kTextPrefixes, kTextIgnore, o);
  const std::string image = (root / "image").string();
  if (has_hf_weights(image)) {
    load_resnet_weights(model->resnet(), image, o.strict);
  } else {
    no_weights(image, o);
  }
  const fs::path proj = root / "modal_proj.safetensors";
  if (fs::exists(proj)) {
    TensorMap tensors;
    for (auto& [name, t] : SafetensorsReader(proj.string()).load_all()) {
      tensors.emplace(name, t);
    }
    LoadRules rules;
    rules.strict = o.strict;
    load_state_dict(*model->modal_projection(),
                    normalize_hf_keys(tensors, {"modal_encoder.proj_embeddings."}, proj.string()),
                    rules, proj.string());
  } else {
    log_info("model",
             "'{}' has no modal_proj.safetensors: modal_encoder.proj_embeddings is randomly "
             "initialised (as in the paper)",
             o.dir);
  }
  return model;
}

std::shared_ptr<MultimodalModel> from_dual_directory(const ModelOptions& o, int num_classes) {
  if (o.name == ModelKind::kMmbt) return from_mmbt_directory(o, num_classes);
  MMAUX_CHECK_CONFIG(
      o.name != ModelKind::kVilt && o.name != ModelKind::kLxmert,
      "model.dir '{}' is a dual-stream directory (text/ and image/) but model.name is "
      "{}; use ber-vit-concat or ber-vit-att, or a {} directory",
      o.dir, name_of(o.name), o.name == ModelKind::kVilt ? "ViLT" : "LXMERT");
  const fs::path root(o.dir);
  ModelArchitecture c = preset_config(o.name, o.preset);
  c.text = parse_text_config(read_whole_file((root / "text" / "config.json").string()),
                             TextConfig{}, (root / "text" / "config.json").string());
  c.vision = parse_vision_config(read_whole_file((root / "image" / "config.json").string()),
                                 VisionConfig{}, (root / "image" / "config.json").string());
  MMAUX_CHECK_DATA(is_text_type(c.text.model_type),
                   "{}: model_type '{}' is not a BERT-family text model (bert, roberta, "
                   "xlm-roberta)",
                   (root / "text" / "config.json").string(), c.text.model_type);
  apply_options(c, o, num_classes);
  auto model = std::make_shared<DualStreamModel>(c, o);
  load_tower(model->text(), (root / "text").string(), kTextPrefixes, kTextIgnore, o);
  load_tower(model->image(), (root / "image").string(), kVisionPrefixes, kVisionIgnore, o);
  return model;
}

std::shared_ptr<MultimodalModel> from_saved(const ModelOptions& o, int num_classes,
                                            const std::string& text, const fs::path& config_path) {
  ModelArchitecture c = parse_model_config(text, config_path.string());
  MMAUX_CHECK_CONFIG(c.kind == o.name,
                     "model.dir '{}' holds a {} model but model.name is {}; set --model.name {}",
                     o.dir, name_of(c.kind), name_of(o.name), name_of(c.kind));
  if (c.num_classes != num_classes) {
    log_warn("model", "'{}' was saved with {} classes, the data has {}: the classifier is new",
             o.dir, c.num_classes, num_classes);
  }
  apply_options(c, o, num_classes);
  auto model = build(c, o);
  const fs::path weights = fs::path(o.dir) / "model.safetensors";
  if (!fs::exists(weights)) {
    MMAUX_CHECK_DATA(o.allow_no_weights,
                     "'{}' was written by save_pretrained but its model.safetensors is missing; "
                     "restore it, or pass --model.allow-no-weights true to initialise the model "
                     "randomly",
                     o.dir);
    log_warn("model",
             "'{}' has no model.safetensors: random initialisation (model.allow-no-weights)",
             o.dir);
    return model;
  }
  TensorMap tensors;
  for (auto& [name, t] : SafetensorsReader(weights.string()).load_all()) tensors.emplace(name, t);
  LoadRules rules;
  rules.strict = o.strict;
  load_state_dict(*model, tensors, rules, weights.string());
  return model;
}

std::shared_ptr<MultimodalModel> from_directory(const ModelOptions& o, int num_classes) {
  const fs::path root(o.dir);
  MMAUX_CHECK_CONFIG(fs::is_directory(root), "model.dir '{}' is not a directory", o.dir);
  const fs::path config_path = root / "config.json";
  // A saved mmaux model may also hold text/ and image/ exports (export_towers): its own
  // config.json decides first.
  if (fs::exists(config_path)) {
    const std::string text = read_whole_file(config_path.string());
    if (parse_json_object(text, config_path.string()).contains("mmaux_model")) {
      return from_saved(o, num_classes, text, config_path);
    }
  }
  if (fs::is_directory(root / "text") && fs::is_directory(root / "image")) {
    return from_dual_directory(o, num_classes);
  }
  MMAUX_CHECK_CONFIG(fs::exists(config_path),
                     "model.dir '{}' has no config.json (nor text/ and image/ subdirectories); "
                     "expected a Hugging Face model directory",
                     o.dir);
  const std::string text = read_whole_file(config_path.string());
  nlohmann::json j = parse_json_object(text, config_path.string());
  std::string model_type;
  get_to(j, "model_type", model_type, config_path.string());
  ModelArchitecture c;
  if (j.contains("mmaux_preset")) {
    c = preset_with_overrides(o.name, j, config_path.string());
  } else if (model_type == "vilt") {
    MMAUX_CHECK_CONFIG(o.name == ModelKind::kVilt,
                       "model.dir '{}' is a ViLT model but model.name is {}; set --model.name vilt",
                       o.dir, name_of(o.name));
    c = preset_config(ModelKind::kVilt, o.preset);
    c.vilt = parse_vilt_config(text, ViltConfig{}, config_path.string());
  } else if (model_type == "lxmert") {
    MMAUX_CHECK_CONFIG(o.name == ModelKind::kLxmert,
                       "model.dir '{}' is an LXMERT model but model.name is {}; set --model.name "
                       "lxmert",
                       o.dir, name_of(o.name));
    c = preset_config(ModelKind::kLxmert, o.preset);
    c.lxmert = parse_lxmert_config(text, LxmertConfig{}, config_path.string());
  } else {
    MMAUX_CHECK_CONFIG(
        is_text_type(model_type),
        "{}: model_type '{}' is not supported here; expected vilt, lxmert, a BERT-family "
        "text model (bert, roberta, xlm-roberta) or a directory with text/ and image/",
        config_path.string(), model_type);
    MMAUX_CHECK_CONFIG(o.name != ModelKind::kVilt && o.name != ModelKind::kLxmert,
                       "model.dir '{}' is a {} text model; {} needs a {} directory", o.dir,
                       model_type, name_of(o.name), o.name == ModelKind::kVilt ? "ViLT" : "LXMERT");
    c = preset_config(o.name, o.preset);
    c.text = parse_text_config(text, TextConfig{}, config_path.string());
    log_info("model",
             "'{}' gives the text tower; the image tower is the {} preset, randomly "
             "initialised",
             o.dir, name_of(o.preset));
  }
  apply_options(c, o, num_classes);
  auto model = build(c, o);
  if (j.contains("mmaux_preset") && !has_hf_weights(o.dir)) {
    // A preset description (what `mmaux synth` writes), not a pretrained model.
    log_info("model", "'{}' describes the {} preset and holds no weights: random initialisation",
             o.dir, j["mmaux_preset"].dump());
  } else if (c.kind == ModelKind::kVilt) {
    load_tower(static_cast<ViltModel&>(*model).backbone(), o.dir, kViltPrefixes, kViltIgnore, o);
  } else if (c.kind == ModelKind::kLxmert) {
    load_tower(static_cast<LxmertModel&>(*model).backbone(), o.dir, kLxmertPrefixes, kLxmertIgnore,
               o);
  } else {
    load_tower(text_tower(*model), o.dir, kTextPrefixes, kTextIgnore, o);
  }
  return model;
}

void write_text_atomic(const fs::path& path, const std::string& text) {
  write_file_atomic(path.string(), text + "\n");
}

}  // namespace

std::shared_ptr<MultimodalModel> make_model(const ModelOptions& options, int num_classes) {
  MMAUX_CHECK_CONFIG(num_classes >= 1, "make_model: num_classes = {} must be at least 1",
                     num_classes);
  std::shared_ptr<MultimodalModel> model;
  if (options.dir.empty()) {
    ModelArchitecture c = preset_config(options.name, options.preset);
    apply_options(c, options, num_classes);
    model = build(c, options);
    log_info("model", "{} preset {}: random initialisation", name_of(options.name),
             name_of(options.preset));
  } else {
    model = from_directory(options, num_classes);
  }
  int64_t trainable = 0;
  for (const auto& p : model->parameters()) trainable += p.requires_grad() ? p.numel() : 0;
  log_info("model", "{}: {} parameters ({} trainable), {} classes", name_of(model->kind()),
           count_parameters(*model), trainable, num_classes);
  return model;
}

void save_pretrained(const MultimodalModel& model, const std::string& dir) {
  const std::string config = model.config_json();
  MMAUX_CHECK(!config.empty(), "save_pretrained: model {} has no config_json(); it cannot be saved",
              name_of(model.kind()));
  std::error_code ec;
  fs::create_directories(dir, ec);
  MMAUX_CHECK(!ec, "save_pretrained: cannot create '{}': {}", dir, ec.message());
  write_safetensors((fs::path(dir) / "model.safetensors").string(), state_tensors(model),
                    {{"mmaux_model", name_of(model.kind())}});
  write_text_atomic(fs::path(dir) / "config.json", config);
}

void export_towers(const MultimodalModel& model, const std::string& dir,
                   const TextTowerExtras& text_extras) {
  const auto* dual = dynamic_cast<const DualStreamModel*>(&model);
  MMAUX_CHECK(dual, "export_towers: {} is not a dual-stream model", name_of(model.kind()));
  const ModelArchitecture& c = dual->config();
  nlohmann::json text_config = nlohmann::json::parse(text_config_json(c.text));
  if (!text_extras.architecture.empty()) {
    text_config["architectures"] = nlohmann::json::array({text_extras.architecture});
  }
  struct Tower {
    const char* sub;
    const torch::nn::Module& module;
    std::string config;
    const std::string& prefix;
    const std::vector<std::pair<std::string, at::Tensor>>& extra;
  };
  const std::string none;
  const std::vector<std::pair<std::string, at::Tensor>> no_tensors;
  for (const Tower& t :
       {Tower{"text", *dual->text_module(), text_config.dump(2), text_extras.prefix,
              text_extras.tensors},
        Tower{"image", *dual->image_module(), vision_config_json(c.vision), none, no_tensors}}) {
    const fs::path sub = fs::path(dir) / t.sub;
    std::error_code ec;
    fs::create_directories(sub, ec);
    MMAUX_CHECK(!ec, "export_towers: cannot create '{}': {}", sub.string(), ec.message());
    std::vector<std::pair<std::string, at::Tensor>> tensors = state_tensors(t.module);
    for (auto& item : tensors) item.first = t.prefix + item.first;
    tensors.insert(tensors.end(), t.extra.begin(), t.extra.end());
    write_safetensors((sub / "model.safetensors").string(), tensors);
    write_text_atomic(sub / "config.json", t.config);
  }
}

}  // namespace mmaux::model
