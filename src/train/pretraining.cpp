#include "pretraining.h"

#include <ATen/ATen.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/log.h"
#include "mmaux/data/input_spec.h"
#include "mmaux/data/tokenizer.h"
#include "mmaux/loss/itc.h"
#include "mmaux/model/dual_stream.h"
#include "mmaux/model/state_dict.h"
#include "mmaux/train/retrieval.h"
#include "mmaux/train/run_files.h"
#include "score_split.h"

namespace fs = std::filesystem;

namespace mmaux::train {
namespace {

model::DualStreamModel& dual_stream(Session& s) {
  auto* dual = dynamic_cast<model::DualStreamModel*>(s.model.get());
  MMAUX_CHECK_CONFIG(dual != nullptr,
                     "mmaux pretrain supports ber-vit-concat and ber-vit-att, not {}",
                     name_of(s.model->kind()));
  return *dual;
}

// The model directory preprocessing read its tokenizer from (the manifest records it).
std::string tokenizer_dir_of(const data::Manifest& manifest) {
  auto it = manifest.extra().find("model");
  MMAUX_CHECK_CONFIG(it != manifest.extra().end() && !it->second.empty(),
                     "'{}/manifest.json' names no model directory, so the tokenizer (and its "
                     "[MASK] id) is unknown; preprocess with --model DIR",
                     manifest.dir());
  try {
    return data::read_model_directory(it->second).tokenizer_dir;
  } catch (const Error& e) {
    MMAUX_THROW(ConfigError,
                "'{}/manifest.json' names the model directory '{}' (as given to preprocess; a "
                "relative path is read from the current directory), whose tokenizer gives the "
                "[MASK] id, but it cannot be read: {}",
                manifest.dir(), it->second, e.what());
  }
}

MlmMasking masking_of(const data::Tokenizer& t, const Session& s) {
  MlmMasking m;
  m.mask_id = t.mask_id();
  MMAUX_CHECK_CONFIG(m.mask_id >= 0 || s.config.pretrain.mlm == 0,
                     "the tokenizer of '{}' has no [MASK] token (tokenizer_config.json "
                     "mask_token); masked-language modelling needs one: use a BERT vocabulary "
                     "with [MASK], or --pretrain.mlm 0",
                     s.manifest.extra().at("model"));
  m.vocab_size = t.vocab_size();
  m.special_ids = {t.pad_id(), t.unk_id(), t.bos_id(), t.eos_id(), t.mask_id()};
  m.prob = s.config.pretrain.mask_prob;
  m.seed = s.config.train.seed;
  return m;
}

// The head's weights in model.dir (a BertForMaskedLM / BertForPreTraining directory, or the
// text/ of towers this command wrote), when it has them; otherwise it stays as initialised.
void load_head(model::MlmHead& head, const ModelOptions& o) {
  if (o.dir.empty()) return;
  const fs::path text =
      fs::is_directory(fs::path(o.dir) / "text") ? fs::path(o.dir) / "text" : fs::path(o.dir);
  if (!model::has_hf_weights(text.string())) return;
  const std::string prefix = model::kMlmHeadPrefix;
  model::TensorMap found;
  for (const auto& [name, t] : model::read_hf_weights(text.string())) {
    if (name.rfind(prefix, 0) == 0) found.emplace(name.substr(prefix.size()), t);
  }
  if (found.empty()) {
    log_info("pretrain", "'{}' has no {}* tensors: the MLM head starts randomly initialised",
             text.string(), prefix);
    return;
  }
  model::LoadRules rules;
  rules.ignore = {"decoder."};  // tied to the word embeddings the tower loaded
  model::load_state_dict(head, found, rules, model::hf_weights_file(text.string()));
}

std::shared_ptr<model::MlmHead> make_head(model::DualStreamModel& m, const RunConfig& c) {
  // Seeded apart from the ranks' dropout streams, which are left as they were.
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  at::Tensor saved;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    saved = gen.get_state();
  }
  at::manual_seed(c.train.seed * 1000003ULL + 0x6d6c6dULL);
  auto head =
      std::make_shared<model::MlmHead>(m.config().text, m.text().embeddings().words().weight());
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(saved);
  }
  load_head(*head, c.model);
  return head;
}

}  // namespace

Pretraining::Pretraining(Session& session) : s_(session) {
  model::DualStreamModel& m = dual_stream(s_);
  head_ = make_head(m, s_.config);
  // On the model's device and in its dtype (train.dtype float64 for verification runs).
  head_->to(s_.device, m.text().embeddings().words().weight().scalar_type());
  s_.head = head_;
  s_.head_prefix = model::kMlmHeadPrefix;
  tokenizer_dir_ = tokenizer_dir_of(s_.manifest);
  auto tokenizer = data::Tokenizer::load(tokenizer_dir_);
  MMAUX_CHECK_CONFIG(tokenizer->fingerprint() == s_.manifest.tokenizer_fingerprint(),
                     "the tokenizer in '{}' (fingerprint {}) is not the one '{}' was "
                     "preprocessed with ({})",
                     tokenizer_dir_, tokenizer->fingerprint(), s_.manifest.dir(),
                     s_.manifest.tokenizer_fingerprint());
  MMAUX_CHECK_CONFIG(tokenizer->vocab_size() <= m.config().text.vocab_size,
                     "the tokenizer of '{}' has {} tokens, the text tower's vocabulary {}",
                     tokenizer_dir_, tokenizer->vocab_size(), m.config().text.vocab_size);
  mlm_.masking = masking_of(*tokenizer, s_);
  mlm_.weight = s_.config.pretrain.mlm;
  const LossWeights w = loss_weights(s_.config.loss);
  log_info("pretrain",
           "objective: {} ITC + {} ITM ({}) + {} MLM ({} of the tokens, [MASK] = {}); labels "
           "are not read",
           w.itc, w.itm, name_of(s_.config.loss.itm_mode), mlm_.weight, mlm_.masking.prob,
           mlm_.masking.mask_id);
}

AccumulatedStep Pretraining::step(const std::vector<data::Batch>& micro, int64_t step,
                                  const AccumulationHooks& hooks) {
  AccumulatedStep out =
      pretrain_step(s_.loss_model(), *head_, micro, step, s_.objective, mlm_, *s_.comm, hooks);
  sums_[0] += out.losses.itc;
  sums_[1] += out.losses.itm;
  sums_[2] += out.losses.mlm;
  ++steps_;
  return out;
}

nlohmann::json Pretraining::training_means() {
  at::Tensor v =
      at::tensor({sums_[0], sums_[1], sums_[2], static_cast<double>(steps_)}, at::kDouble)
          .to(s_.comm->device());
  s_.comm->all_reduce(v, dist::ReduceOp::kAvg);
  v = v.cpu();
  const double n = std::max(1.0, v[3].item<double>());
  const int64_t batch =
      static_cast<int64_t>(s_.config.data.batch_size) * s_.config.train.accumulate;
  std::fill(sums_.begin(), sums_.end(), 0.0);
  steps_ = 0;
  return {{"itc", v[0].item<double>() / n},
          {"itm", v[1].item<double>() / n},
          {"mlm", v[2].item<double>() / n},
          {"steps", static_cast<int64_t>(v[3].item<double>())},
          {"itc_chance", std::log(static_cast<double>(batch))}};
}

nlohmann::json Pretraining::validation(int64_t epoch) {
  ItcRows rows;
  for_each_eval_batch(*s_.model, s_.manifest, s_.config.data, "validation", s_.comm->rank(),
                      s_.comm->world_size(), [&](const data::Batch& batch) {
                        rows.add(s_.model->encode(to_model_input(batch, s_.device)));
                      });
  const int64_t d = dual_stream(s_).config().projection_dim;
  auto local = [&](const std::vector<at::Tensor>& v) {
    return v.empty() ? at::zeros({0, d}, at::TensorOptions().device(s_.device)) : at::cat(v);
  };
  at::NoGradGuard no_grad;
  loss::ItcResult itc =
      loss::itc_loss(local(rows.text), local(rows.image), s_.logit_scale.detach(), *s_.comm);
  at::Tensor v = itc.loss.detach().to(at::kDouble).reshape({1});
  s_.comm->all_reduce(v, dist::ReduceOp::kAvg);
  const RetrievalRecall recall = rows.recall(*s_.comm);
  const int64_t n = itc.global_rows;
  const double value = v.cpu().item<double>();
  log_info("eval",
           "epoch {}: validation ITC {:.4f} over the whole split (ln N = {:.3f}, N = {}); {}",
           epoch + 1, value, std::log(static_cast<double>(std::max<int64_t>(n, 1))), n,
           retrieval_summary(recall));
  return {{"itc", value},
          {"rows", n},
          {"itc_chance", std::log(static_cast<double>(std::max<int64_t>(n, 1)))},
          {"retrieval", retrieval_json(recall)},
          {"retrieval_chance_r1", n > 0 ? 1.0 / static_cast<double>(n) : 0.0}};
}

void Pretraining::validate_at_start(const std::string& metrics_file) {
  if (!s_.manifest.has_split("validation")) return;
  nlohmann::json record = {{"kind", "start"}, {"step", 0}, {"validation", validation(-1)}};
  if (s_.comm->rank() == 0) append_jsonl(metrics_file, record);
}

void Pretraining::end_of_epoch(const TrainState& state, nlohmann::json& record) {
  record["train"] = training_means();
  const nlohmann::json& t = record["train"];
  log_info("pretrain", "epoch {}: training ITC {:.4f} (ln N = {:.3f}), ITM {:.4f}, MLM {:.4f}",
           state.epoch + 1, t["itc"].get<double>(), t["itc_chance"].get<double>(),
           t["itm"].get<double>(), t["mlm"].get<double>());
  if (s_.manifest.has_split("validation")) {
    record["validation"] = validation(state.epoch);
  }
  if (s_.comm->rank() == 0) write_towers();
  s_.comm->barrier();
}

nlohmann::json Pretraining::summary(const std::string& metrics_file) {
  nlohmann::json start, last;
  std::ifstream in(metrics_file);
  for (std::string line; std::getline(in, line);) {
    nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
    if (!r.is_object()) continue;
    const std::string kind = r.value("kind", "");
    if (kind == "start" && r.contains("validation")) start = r["validation"];
    if (kind == "epoch") last = r;
  }
  if (last.is_object()) last.erase("kind");
  return {{"start", start}, {"final", last}};
}

void Pretraining::write_towers() const {
  const fs::path run(s_.config.train.out);
  const fs::path staged = run / ".tmp-towers";
  fs::remove_all(staged);
  model::TextTowerExtras extras;
  extras.prefix = "bert.";
  extras.tensors = head_->hf_tensors();
  extras.architecture = "BertForMaskedLM";
  model::export_towers(*s_.model, staged.string(), extras);
  data::copy_tokenizer_files(tokenizer_dir_, (staged / "text").string());
  replace_directory(staged.string(), (run / "towers").string());
  log_info("pretrain", "wrote '{}' (text: BertForMaskedLM, image: ViTModel)",
           (run / "towers").string());
}

}  // namespace mmaux::train
