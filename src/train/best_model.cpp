#include "best_model.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/model/safetensors.h"

namespace fs = std::filesystem;

namespace mmaux::train {

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
    fs::remove_all(tmp);
    model::save_pretrained(*s_.model, tmp.string());
    write_file_atomic((tmp / "config.ini").string(), s_.config.config_ini);
    nlohmann::json info = {{"epoch", state.best_epoch},
                           {"step", state.step},
                           {"metric", name_of(s_.config.train.select_metric)},
                           {"value", state.best_value},
                           {"validation", to_json(split_scores(validation.metrics, s_))}};
    write_file_atomic((tmp / "best.json").string(), info.dump(2));
    replace_directory(tmp.string(), best.string());
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
