#include "mmaux/train/train_state.h"

#include <nlohmann/json.hpp>

#include "mmaux/core/error.h"
#include "mmaux/core/hash.h"

namespace mmaux::train {

using nlohmann::json;

json to_json(const TrainState& s) {
  json extensions = json::array();
  for (const auto& e : s.extensions) extensions.push_back(to_json(e));
  return json{{"step", s.step},
              {"epoch", s.epoch},
              {"cursor", {{"epoch", s.cursor_epoch}, {"step", s.cursor_step}}},
              {"config", s.config},
              {"config_hash", s.config_hash},
              {"data_fingerprint", s.data_fingerprint},
              {"bad_steps", s.bad_steps},
              {"itm_degenerate_rows", s.itm_degenerate_rows},
              {"best_epoch", s.best_epoch},
              {"best_value", s.best_value},
              {"samples", s.samples},
              {"mmaux_version", s.mmaux_version},
              {"schedule_horizon", s.schedule_horizon},
              {"last_eval_step", s.last_eval_step},
              {"last_eval_epoch", s.last_eval_epoch},
              {"extensions", extensions}};
}

TrainState train_state_from_json(const json& j, const std::string& origin) {
  TrainState s;
  try {
    s.step = j.at("step").get<int64_t>();
    s.cursor_epoch = j.at("cursor").at("epoch").get<int64_t>();
    s.cursor_step = j.at("cursor").at("step").get<int64_t>();
    s.epoch = j.value("epoch", s.cursor_epoch);
    s.bad_steps = j.value("bad_steps", int64_t{0});
    s.itm_degenerate_rows = j.value("itm_degenerate_rows", int64_t{0});
    s.best_epoch = j.value("best_epoch", -1);
    s.best_value = j.value("best_value", 0.0);
    s.samples = j.value("samples", int64_t{0});
    s.config = j.value("config", std::map<std::string, std::string>{});
    s.config_hash = j.value("config_hash", std::string());
    s.data_fingerprint = j.value("data_fingerprint", std::string());
    s.mmaux_version = j.value("mmaux_version", std::string());
    s.schedule_horizon = j.value("schedule_horizon", int64_t{0});
    s.last_eval_step = j.value("last_eval_step", int64_t{-1});
    s.last_eval_epoch = j.value("last_eval_epoch", int64_t{-1});
    if (j.contains("extensions")) {
      for (const auto& e : j.at("extensions"))
        s.extensions.push_back(run_extension_from_json(e, origin + " extensions"));
    }
  } catch (const json::exception& e) {
    MMAUX_THROW(DataError, "{}: state.json is not a trainer state: {}", origin, e.what());
  }
  return s;
}

std::string config_hash(const OptionValues& options) {
  std::string text;
  for (const auto& [name, v] : options)
    if (v.trajectory) text += name + "=" + v.text + "\n";
  return sha256_hex(text).substr(0, 16);
}

std::vector<std::string> resume_conflicts(const OptionValues& options,
                                          const std::map<std::string, std::string>& stored) {
  std::vector<std::string> differ;
  for (const auto& [name, v] : options) {
    if (!v.trajectory || v.stopping) continue;
    auto it = stored.find(name);
    if (it == stored.end() && v.text == v.default_text) continue;  // newer than the checkpoint
    if (it == stored.end() || it->second != v.text) {
      differ.push_back(
          fmt::format("{} ({} -> {})", name, it == stored.end() ? "<absent>" : it->second, v.text));
    }
  }
  return differ;
}

std::map<std::string, std::pair<std::string, std::string>> stopping_changes(
    const OptionValues& options, const std::map<std::string, std::string>& stored) {
  std::map<std::string, std::pair<std::string, std::string>> changes;
  for (const auto& [name, v] : options) {
    if (!v.stopping) continue;
    auto it = stored.find(name);
    if (it == stored.end() || it->second != v.text)
      changes[name] = {it == stored.end() ? "<absent>" : it->second, v.text};
  }
  return changes;
}

}  // namespace mmaux::train
