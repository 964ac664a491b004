#include "mmaux/config/run_config.h"

#include "mmaux/core/error.h"

namespace mmaux {

LossWeights loss_weights(const LossOptions& o) {
  return LossWeights{o.ce >= 0 ? o.ce : 1.0 - o.itc - o.itm, o.itc, o.itm};
}

const char* loss_setting(const LossOptions& o) {
  if (o.itc > 0 && o.itm > 0) return "itc+itm";
  if (o.itc > 0) return "itc";
  if (o.itm > 0) return "itm";
  return "ce";
}

ResumeFrom ResumeFrom::parse(const std::string& text) {
  MMAUX_CHECK_CONFIG(!text.empty(),
                     "option 'train.resume': empty value; expected none, auto or a checkpoint "
                     "directory");
  if (text == "none") return {};
  if (text == "auto") return ResumeFrom{Mode::kAuto, ""};
  return ResumeFrom{Mode::kPath, text};
}

std::string ResumeFrom::text() const {
  switch (mode) {
    case Mode::kNone:
      return "none";
    case Mode::kAuto:
      return "auto";
    case Mode::kPath:
      return path;
  }
  return "none";
}

std::vector<std::string> trajectory_keys(const OptionValues& options) {
  std::vector<std::string> out;
  for (const auto& [name, v] : options)
    if (v.trajectory) out.push_back(name);
  return out;
}

std::map<std::string, std::string> option_texts(const OptionValues& options) {
  std::map<std::string, std::string> out;
  for (const auto& [name, v] : options) out[name] = v.text;
  return out;
}

namespace {

void validate_loss(const LossOptions& l) {
  const LossWeights w = loss_weights(l);
  MMAUX_CHECK_CONFIG(w.ce >= 0,
                     "loss.itc + loss.itm = {} exceeds 1, so the paper's CE weight 1 - itc - itm "
                     "is negative; set --loss.ce explicitly",
                     l.itc + l.itm);
  MMAUX_CHECK_CONFIG(w.ce > 0 || w.itc > 0 || w.itm > 0,
                     "loss.ce = {}, loss.itc = {} and loss.itm = {}: every loss weight is 0, so "
                     "nothing would be trained; give at least one a positive weight",
                     l.ce, l.itc, l.itm);
}

void validate_pretrain(const RunConfig& c) {
  const PretrainOptions& p = c.pretrain;
  const LossWeights w = loss_weights(c.loss);
  MMAUX_CHECK_CONFIG(w.ce == 0, "pretraining ignores labels, but the CE weight is {}; it must be 0",
                     w.ce);
  MMAUX_CHECK_CONFIG(w.itc > 0 || w.itm > 0 || p.mlm > 0,
                     "pretrain.itc = {}, pretrain.itm = {} and pretrain.mlm = {}: every weight is "
                     "0, so nothing would be trained; give at least one a positive weight",
                     w.itc, w.itm, p.mlm);
  const ModelKind m = c.model.name;
  MMAUX_CHECK_CONFIG(m == ModelKind::kBerVitConcat || m == ModelKind::kBerVitAtt,
                     "mmaux pretrain supports the dual-stream models ber-vit-concat and "
                     "ber-vit-att (separate text and image towers), not model.name = {}",
                     name_of(m));
}

void validate_schedule(const TrainOptions& t) {
  if (!t.paper) return;
  MMAUX_CHECK_CONFIG(t.schedule == Schedule::kConstant && t.warmup == 0,
                     "train.paper = true trains with a constant learning rate, but "
                     "train.schedule = {} and train.warmup = {}; set train.schedule = constant "
                     "and train.warmup = 0, or train.paper = false",
                     name_of(t.schedule), t.warmup);
}

void validate_backend(const DistOptions& d, const TrainOptions& t) {
  MMAUX_CHECK_CONFIG(!(d.backend == CommBackend::kMpi && t.device == DeviceChoice::kCuda),
                     "dist.backend = mpi moves CPU tensors only, but train.device = cuda; use "
                     "dist.backend = nccl or auto");
  MMAUX_CHECK_CONFIG(!(d.backend == CommBackend::kNccl && t.device == DeviceChoice::kCpu),
                     "dist.backend = nccl moves CUDA tensors only, but train.device = cpu; use "
                     "dist.backend = mpi or auto");
}

void validate_dtype(const RunConfig& c) {
  if (c.train.dtype != TrainDtype::kFloat64) return;
  MMAUX_CHECK_CONFIG(!c.train.bf16,
                     "train.dtype = float64 (verification in double) and train.bf16 = true (bf16 "
                     "autocast) contradict each other; drop one");
  MMAUX_CHECK_CONFIG(c.model.name != ModelKind::kLxmert,
                     "train.dtype = float64 is not available for model.name = lxmert (its region "
                     "features are read as float32); use float32");
}

}  // namespace

void validate(const RunConfig& config) {
  MMAUX_CHECK_CONFIG(!config.data.dir.empty(),
                     "option 'data.dir' is required: the directory written by 'mmaux preprocess'");
  if (config.pretrain.on) {
    validate_pretrain(config);
  } else {
    validate_loss(config.loss);
  }
  validate_schedule(config.train);
  validate_dtype(config);
  validate_backend(config.dist, config.train);
  const bool mmbt_paper = config.model.name == ModelKind::kMmbt &&
                          run_model_options(config).mmbt_mode == MmbtMode::kPaper;
  MMAUX_CHECK_CONFIG(
      !(mmbt_paper && loss_weights(config.loss).itm > 0 && config.loss.itm_mode == ItmMode::kHard),
      "model.mmbt-mode paper reproduces the paper's ITM head, which reads the "
      "matched pooled output and so exists only for random pairs, but "
      "loss.itm-mode = hard; use --model.mmbt-mode fixed or --loss.itm-mode random");
}

ModelOptions run_model_options(const RunConfig& config) {
  ModelOptions o = config.model;
  o.paper = config.train.paper;
  if (config.train.paper && o.vit_interpolation == VitInterpolation::kAuto) {
    o.vit_interpolation = VitInterpolation::kScaleFactor;
  }
  if (o.mmbt_mode == MmbtMode::kAuto) {
    o.mmbt_mode = config.train.paper ? MmbtMode::kPaper : MmbtMode::kFixed;
  }
  return o;
}

}  // namespace mmaux
