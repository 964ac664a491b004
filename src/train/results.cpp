#include "mmaux/train/results.h"

#include <fstream>

#include "json_fields.h"
#include "mmaux/core/error.h"

namespace mmaux::train {

using detail::object_or_throw;
using detail::read_field;
using nlohmann::json;

json to_json(const SplitScores& s) {
  json j = metrics_to_json(s.metrics, s.class_names);
  if (s.loss) j["loss"] = *s.loss;
  return j;
}

SplitScores split_scores_from_json(const json& j, const std::string& what) {
  SplitScores s;
  s.metrics = metrics_from_json(j, s.class_names, what);
  if (j.contains("loss")) {
    double loss = 0;
    read_field(j, "loss", loss, what);
    s.loss = loss;
  }
  return s;
}

json to_json(const RunExtension& e) {
  json options = json::object();
  for (const auto& [name, change] : e.options)
    options[name] = {{"from", change.first}, {"to", change.second}};
  json j = {
      {"step", e.step},         {"time", e.time},
      {"options", options},     {"steps", {{"from", e.steps_from}, {"to", e.steps_to}}},
      {"schedule", e.schedule}, {"horizon", {{"from", e.horizon_from}, {"to", e.horizon_to}}}};
  if (!e.previous_results.empty()) j["previous_results"] = e.previous_results;
  return j;
}

RunExtension run_extension_from_json(const json& j, const std::string& what) {
  object_or_throw(j, what);
  RunExtension e;
  read_field(j, "step", e.step, what);
  read_field(j, "time", e.time, what);
  read_field(j, "schedule", e.schedule, what);
  read_field(j, "previous_results", e.previous_results, what);
  auto from_to = [&](const char* key, int64_t& from, int64_t& to) {
    if (!j.contains(key)) return;
    const json& o = object_or_throw(j[key], fmt::format("{} {}", what, key));
    read_field(o, "from", from, what);
    read_field(o, "to", to, what);
  };
  from_to("steps", e.steps_from, e.steps_to);
  from_to("horizon", e.horizon_from, e.horizon_to);
  if (j.contains("options")) {
    for (const auto& [name, o] : object_or_throw(j["options"], what + " options").items()) {
      const std::string where = fmt::format("{} options.{}", what, name);
      object_or_throw(o, where);
      read_field(o, "from", e.options[name].first, where);
      read_field(o, "to", e.options[name].second, where);
    }
  }
  return e;
}

json to_json(const RunResults& r) {
  json j;
  j["mmaux_version"] = r.mmaux_version;
  j["config"] = r.config;
  j["trajectory_keys"] = r.trajectory_keys;
  j["config_hash"] = r.config_hash;
  j["dataset"] = r.dataset;
  j["data_fingerprint"] = r.data_fingerprint;
  j["model"] = r.model;
  j["preset"] = r.preset;
  j["loss_setting"] = r.loss_setting;
  j["itm_mode"] = r.itm_mode;
  if (r.seed) j["seed"] = *r.seed;
  j["world_size"] = r.world_size;
  j["best_epoch"] = r.best_epoch;
  j["steps"] = r.steps;
  j["skipped_steps"] = r.skipped_steps;
  j["itm_degenerate_rows"] = r.itm_degenerate_rows;
  if (r.validation) j["validation"] = to_json(*r.validation);
  if (r.test) {
    j["test"] = to_json(*r.test);
    json rel = json::object();
    for (const auto& [name, s] : r.test_by_relation) rel[name] = to_json(s);
    j["test_by_relation"] = rel;
  }
  j["extensions"] = json::array();
  for (const auto& e : r.extensions) j["extensions"].push_back(to_json(e));
  j["timings"] = {{"train_s", r.timings.train_s},
                  {"test_eval_s", r.timings.test_eval_s},
                  {"total_s", r.timings.total_s},
                  {"train_samples_per_s", r.timings.train_samples_per_s}};
  j["peak_memory_mb"] = r.peak_memory_mb;
  return j;
}

namespace {

void read_splits(const json& j, RunResults& r, const std::string& origin) {
  if (j.contains("validation"))
    r.validation = split_scores_from_json(j["validation"], origin + " validation");
  if (j.contains("test")) r.test = split_scores_from_json(j["test"], origin + " test");
  auto rel = j.find("test_by_relation");
  if (rel == j.end()) return;
  MMAUX_CHECK_DATA(rel->is_object(), "{}: \"test_by_relation\" is not an object", origin);
  for (const auto& [name, s] : rel->items())
    r.test_by_relation[name] =
        split_scores_from_json(s, fmt::format("{} test_by_relation.{}", origin, name));
}

}  // namespace

RunResults run_results_from_json(const json& j, const std::string& origin) {
  object_or_throw(j, origin);
  RunResults r;
  read_field(j, "mmaux_version", r.mmaux_version, origin);
  if (j.contains("config")) {
    const json& c = object_or_throw(j["config"], origin + " config");
    // Values are strings as mmaux writes them; a hand-written number reads as its text.
    for (const auto& [k, v] : c.items())
      r.config[k] = v.is_string() ? v.get<std::string>() : v.dump();
  }
  read_field(j, "trajectory_keys", r.trajectory_keys, origin);
  read_field(j, "config_hash", r.config_hash, origin);
  read_field(j, "dataset", r.dataset, origin);
  read_field(j, "data_fingerprint", r.data_fingerprint, origin);
  read_field(j, "model", r.model, origin);
  read_field(j, "preset", r.preset, origin);
  read_field(j, "loss_setting", r.loss_setting, origin);
  read_field(j, "itm_mode", r.itm_mode, origin);
  if (j.contains("seed")) {
    uint64_t seed = 0;
    read_field(j, "seed", seed, origin);
    r.seed = seed;
  }
  read_field(j, "world_size", r.world_size, origin);
  read_field(j, "best_epoch", r.best_epoch, origin);
  read_field(j, "steps", r.steps, origin);
  read_field(j, "skipped_steps", r.skipped_steps, origin);
  read_field(j, "itm_degenerate_rows", r.itm_degenerate_rows, origin);
  read_splits(j, r, origin);
  if (auto ext = j.find("extensions"); ext != j.end() && !ext->is_null()) {
    MMAUX_CHECK_DATA(ext->is_array(), "{}: \"extensions\" is not an array", origin);
    for (size_t i = 0; i < ext->size(); ++i)
      r.extensions.push_back(
          run_extension_from_json((*ext)[i], fmt::format("{} extensions[{}]", origin, i)));
  }
  if (j.contains("timings")) {
    const json& t = object_or_throw(j["timings"], origin + " timings");
    read_field(t, "train_s", r.timings.train_s, origin + " timings");
    read_field(t, "test_eval_s", r.timings.test_eval_s, origin + " timings");
    read_field(t, "total_s", r.timings.total_s, origin + " timings");
    read_field(t, "train_samples_per_s", r.timings.train_samples_per_s, origin + " timings");
  }
  read_field(j, "peak_memory_mb", r.peak_memory_mb, origin);
  return r;
}

RunResults read_run_results(const std::filesystem::path& file) {
  std::ifstream in(file);
  MMAUX_CHECK_DATA(in.good(), "cannot read {}", file.string());
  json j;
  try {
    j = json::parse(in);
  } catch (const std::exception& e) {
    MMAUX_THROW(DataError, "{} is not valid JSON: {}", file.string(), e.what());
  }
  return run_results_from_json(j, file.string());
}

}  // namespace mmaux::train
