#include "best_model.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/log.h"
#include "mmaux/data/input_spec.h"
#include "mmaux/model/safetensors.h"

namespace fs = std::filesystem;

namespace mmaux::train {
namespace {

// What `mmaux predict` needs to preprocess raw posts as the training data was: the manifest's
// settings and the tokenizer files of the model directory preprocessing read (the manifest names
// it). When that directory is gone or holds another tokenizer, training goes on with a warning:
// RUN/best then lacks predict_config.json and predict refuses it, naming what is missing.
void write_predict_inputs(const data::Manifest& manifest, const fs::path& dir) {
  auto it = manifest.extra().find("model");
  const std::string tokenizer_dir = it == manifest.extra().end() ? "" : it->second;
  try {
    data::write_input_spec(dir.string(), data::input_spec_from_manifest(manifest), tokenizer_dir);
  } catch (const Error& e) {
    log_warn("train",
             "RUN/best will not carry the preprocessing (predict_config.json, tokenizer/) that "
             "'mmaux predict' needs: the tokenizer directory '{}' named by '{}/manifest.json' "
             "cannot be used: {}",
             tokenizer_dir, manifest.dir(), e.what());
  }
}

}  // namespace

BestModel::BestModel(Session& session)
    : s_(session), dir_((fs::path(session.config.train.out) / "best").string()) {}

double BestModel::score(const EvalResult& validation) const {
  const SelectMetric metric = s_.config.train.select_metric;
  return metric == SelectMetric::kLoss ? -validation.loss
                                       : metric_value(validation.metrics, metric);
}

bool BestModel::improves(double score, const TrainState& state) {
  return state.best_epoch < 0 || score > state.best_value;
}

void BestModel::promote(const EvalResult& validation, const TrainState& state) {
  if (s_.comm->rank() == 0) {
    const fs::path run_dir = s_.config.train.out;
    fs::path tmp = run_dir / ".tmp-best";
    fs::path best = dir_;
    nlohmann::json info = {{"epoch", state.best_epoch},
                           {"step", state.step},
                           {"metric", name_of(s_.config.train.select_metric)},
                           {"value", state.best_value},
                           {"validation", to_json(split_scores(validation.metrics, s_))}};
    try {
      fs::remove_all(tmp);
      model::save_pretrained(*s_.model, tmp.string());
      write_file_atomic((tmp / "config.ini").string(), s_.config.config_ini);
      write_predict_inputs(s_.manifest, tmp);
      write_file_atomic((tmp / "best.json").string(), info.dump(2));
      replace_directory(tmp.string(), best.string());
    } catch (...) {
      std::error_code ec;  // a half-written copy must not keep the disk full
      fs::remove_all(tmp, ec);
      throw;
    }
  }
  s_.comm->barrier();
}

void BestModel::load_into_model() const {
  fs::path weights = fs::path(dir_) / "model.safetensors";
  dist::NamedTensors params;
  for (const auto& item : s_.model->named_parameters())
    params.emplace_back(item.key(), item.value());
  for (const auto& item : s_.model->named_buffers()) params.emplace_back(item.key(), item.value());
  auto loaded = model::SafetensorsReader(weights.string()).load_all();
  copy_named(params, {loaded.begin(), loaded.end()}, fmt::format("'{}'", weights.string()));
}

std::optional<SplitScores> BestModel::validation_scores() const {
  fs::path best_json = fs::path(dir_) / "best.json";
  if (!fs::exists(best_json)) return std::nullopt;
  std::ifstream in(best_json);
  nlohmann::json j = nlohmann::json::parse(in);
  return split_scores_from_json(j.value("validation", nlohmann::json::object()),
                                best_json.string() + " validation");
}

SplitScores split_scores(const Metrics& m, const Session& s, std::optional<double> loss) {
  return SplitScores{m, s.manifest.class_names(), loss};
}

}  // namespace mmaux::train
