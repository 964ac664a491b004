#include "mmaux/launch/aggregate.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "launch/loss_settings.h"
#include "mmaux/core/error.h"
#include "mmaux/launch/sweep.h"
#include "mmaux/train/results.h"

namespace mmaux::launch {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// results.json written before "trajectory_keys" existed: the options that were taken for
// bookkeeping then (newer files name the options that change the result themselves).
const std::vector<std::string> kLegacyBookkeepingPrefixes = {"train.seed",
                                                             "train.out",
                                                             "train.resume",
                                                             "train.log-every",
                                                             "train.keep-last",
                                                             "train.checkpoint-every",
                                                             "train.device",
                                                             "log.",
                                                             "dist.",
                                                             "data.prefetch",
                                                             "data.loader-threads",
                                                             "config"};
// Options that make a loss setting; a group's CE baseline has the same key without them.
const std::vector<std::string> kLossKeys = {"loss.itc", "loss.itm", "loss.ce", "loss.itm-mode"};

bool is_legacy_bookkeeping(const std::string& key) {
  for (const auto& p : kLegacyBookkeepingPrefixes)
    if (key == p || (p.back() == '.' && key.rfind(p, 0) == 0)) return true;
  return false;
}

int loss_rank(const std::string& s) {
  auto it = std::find(detail::loss_settings().begin(), detail::loss_settings().end(), s);
  return static_cast<int>(it - detail::loss_settings().begin());
}

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

bool seed_less(const std::string& a, const std::string& b) {
  char* ea = nullptr;
  char* eb = nullptr;
  long x = std::strtol(a.c_str(), &ea, 10);
  long y = std::strtol(b.c_str(), &eb, 10);
  if (*ea == '\0' && *eb == '\0' && !a.empty() && !b.empty()) return x < y;
  return a < b;
}

std::string serialize(const std::map<std::string, std::string>& key) {
  std::string out;
  for (const auto& [k, v] : key) out += k + "=" + v + "\n";
  return out;
}

json read_json(const fs::path& file, std::string& error) {
  std::ifstream in(file);
  if (!in.good()) {
    error = "cannot read " + file.string();
    return nullptr;
  }
  try {
    return json::parse(in);
  } catch (const std::exception& e) {
    error = fmt::format("{} is not valid JSON: {}", file.string(), e.what());
    return nullptr;
  }
}

// Test weighted and macro F1 from results.json; "" or what is wrong.
std::string read_scores(const train::RunResults& r, SeedResult& out) {
  if (!r.test) return "results.json has no \"test\" object";
  const std::pair<const char*, double> scores[] = {{"weighted_f1", r.test->metrics.weighted_f1},
                                                   {"macro_f1", r.test->metrics.macro_f1}};
  for (const auto& [name, v] : scores) {
    if (std::isnan(v)) return fmt::format("results.json test.{} is missing or not a number", name);
    if (!(v >= 0 && v <= 1))
      return fmt::format("results.json test.{} = {} is not a fraction in [0, 1]", name, v);
  }
  out.weighted_f1 = r.test->metrics.weighted_f1;
  out.macro_f1 = r.test->metrics.macro_f1;
  for (const auto& [rel, s] : r.test_by_relation) {
    // A relation absent from the test split has no score; it is not a zero.
    if (s.metrics.count > 0 && !std::isnan(s.metrics.macro_f1))
      out.relation_macro_f1[rel] = s.metrics.macro_f1;
  }
  return "";
}

// The grouping key of a run known from results.json alone: its result-changing options (all but
// the seed) and its data.
std::map<std::string, std::string> results_key(const train::RunResults& r) {
  std::map<std::string, std::string> key;
  if (r.trajectory_keys.empty()) {  // an older results.json
    for (const auto& [k, v] : r.config)
      if (!is_legacy_bookkeeping(k)) key[k] = v;
    return key;
  }
  for (const auto& k : r.trajectory_keys) {
    if (k == "train.seed") continue;
    auto it = r.config.find(k);
    key[k] = it == r.config.end() ? "(unset)" : it->second;
  }
  // data.dir only says where the data is; its fingerprint says what it is.
  if (!r.data_fingerprint.empty()) key["data"] = r.data_fingerprint;
  return key;
}

struct RunRecord {
  std::map<std::string, std::string> key;
  std::string seed, dataset, model, loss_setting, itm_mode;
  bool has_result = false;
  SeedResult result;
  MissingSeed missing;
};

std::optional<train::RunResults> read_results(const fs::path& file, std::string& error) {
  json j = read_json(file, error);
  if (!error.empty()) return std::nullopt;
  try {
    return train::run_results_from_json(j, file.string());
  } catch (const DataError& e) {
    error = e.what();
    return std::nullopt;
  }
}

RunRecord read_run(const fs::path& dir) {
  RunRecord rec;
  std::string error;
  std::optional<train::RunResults> results;
  if (fs::exists(dir / "results.json")) results = read_results(dir / "results.json", error);
  if (fs::exists(dir / "run.json")) {
    std::string plan_error;
    json plan = read_json(dir / "run.json", plan_error);
    MMAUX_CHECK_DATA(plan.is_object(), "{}; delete the run directory or rerun the sweep",
                     plan_error.empty() ? "run.json is not an object" : plan_error);
    const json options = plan.value("options", json::object());
    for (const auto& [k, v] : options.items())
      if (k != "train.seed") rec.key[k] = value_text(v);
    const json configs = plan.value("configs", json::array());
    int i = 0;
    for (const auto& c : configs) rec.key[fmt::format("--config{}", i++)] = value_text(c);
    rec.seed = value_text(plan.value("seed", json("?")));
    rec.loss_setting = plan.value("loss_setting", std::string("ce"));
    rec.model = rec.key.count("model.name") ? rec.key["model.name"] : "";
    if (rec.key.count("data.dir")) rec.dataset = fs::path(rec.key["data.dir"]).filename().string();
  } else if (results) {
    rec.key = results_key(*results);
    rec.seed = results->seed ? std::to_string(*results->seed) : "?";
    rec.loss_setting = results->loss_setting.empty() ? "ce" : results->loss_setting;
  }
  if (results) {
    if (!results->dataset.empty()) rec.dataset = results->dataset;
    if (!results->model.empty()) rec.model = results->model;
    rec.itm_mode = results->itm_mode;
    std::string bad = read_scores(*results, rec.result);
    if (bad.empty()) {
      rec.has_result = true;
      rec.result.seed = rec.seed;
      rec.result.dir = dir;
      return rec;
    }
    error = bad;
  }
  RunPlan probe;
  probe.dir = dir;
  RunStatus st = run_status(probe);
  rec.missing.seed = rec.seed;
  rec.missing.log = st.log;
  rec.missing.state = error.empty() ? run_state_name(st.state) : "unreadable";
  rec.missing.detail = !error.empty()                  ? error
                       : st.exit_code >= 0             ? fmt::format("exit {}", st.exit_code)
                       : st.state == RunState::kFailed ? "no exit code: killed or still running"
                                                       : "not started";
  return rec;
}

// A run of `mmaux pretrain`: its results.json (when readable) or its sweep plan says so.
bool is_pretraining_run(const fs::path& dir) {
  std::string error;
  if (fs::exists(dir / "results.json")) {
    json r = read_json(dir / "results.json", error);
    if (r.is_object() && r.value("kind", "") == "pretrain") return true;
  }
  if (fs::exists(dir / "run.json")) {
    json plan = read_json(dir / "run.json", error);
    if (plan.is_object() && plan.value("command", "") == "pretrain") return true;
  }
  return false;
}

// Sorts a group's seeds and fills in its summaries.
void summarize_group(Group& g) {
  if (g.dataset.empty()) g.dataset = "?";
  if (g.model.empty()) g.model = "?";
  std::sort(g.done.begin(), g.done.end(),
            [](const SeedResult& a, const SeedResult& b) { return seed_less(a.seed, b.seed); });
  std::sort(g.missing.begin(), g.missing.end(),
            [](const MissingSeed& a, const MissingSeed& b) { return seed_less(a.seed, b.seed); });
  std::vector<double> w, m;
  std::map<std::string, std::vector<double>> rel;
  for (const auto& r : g.done) {
    w.push_back(r.weighted_f1);
    m.push_back(r.macro_f1);
    for (const auto& [name, v] : r.relation_macro_f1) rel[name].push_back(v);
  }
  g.weighted_f1 = summarize(w);
  g.macro_f1 = summarize(m);
  for (const auto& [name, values] : rel) g.relation_macro_f1[name] = summarize(values);
}

void fill_variants(std::vector<Group>& groups) {
  std::map<std::string, std::vector<Group*>> same;
  for (auto& g : groups) same[g.dataset + "\n" + g.model + "\n" + g.loss_setting].push_back(&g);
  for (auto& [labels, members] : same) {
    if (members.size() < 2) continue;
    std::set<std::string> keys;
    for (Group* g : members)
      for (const auto& [k, v] : g->key) keys.insert(k);
    std::vector<std::string> differing;
    for (const auto& k : keys) {
      std::set<std::string> values;
      for (Group* g : members) values.insert(g->key.count(k) ? g->key.at(k) : "(unset)");
      if (values.size() > 1) differing.push_back(k);
    }
    for (Group* g : members) {
      std::vector<std::string> parts;
      for (const auto& k : differing)
        parts.push_back(k + "=" + (g->key.count(k) ? g->key.at(k) : "(unset)"));
      g->variant = fmt::format("{}", fmt::join(parts, " "));
    }
  }
}

void pair_with_baselines(std::vector<Group>& groups) {
  auto partner = [](const Group& g) {
    std::map<std::string, std::string> k = g.key;
    for (const auto& l : kLossKeys) k.erase(l);
    return serialize(k);
  };
  std::map<std::string, const Group*> baselines;
  for (const auto& g : groups)
    if (g.loss_setting == "ce") baselines[partner(g)] = &g;
  for (auto& g : groups) {
    if (g.loss_setting == "ce") continue;
    auto it = baselines.find(partner(g));
    if (it == baselines.end()) continue;
    g.has_baseline = true;
    std::map<std::string, const SeedResult*> base;
    for (const auto& r : it->second->done) base[r.seed] = &r;
    std::vector<double> wa, wb, ma, mb;
    for (const auto& r : g.done) {
      auto b = base.find(r.seed);
      if (b == base.end()) continue;
      wa.push_back(r.weighted_f1);
      wb.push_back(b->second->weighted_f1);
      ma.push_back(r.macro_f1);
      mb.push_back(b->second->macro_f1);
    }
    g.delta_weighted_f1 = paired_t_test(wa, wb);
    g.delta_macro_f1 = paired_t_test(ma, mb);
  }
}

}  // namespace

Summary summarize(const std::vector<double>& values) {
  Summary s;
  s.n = static_cast<int>(values.size());
  if (s.n == 0) return s;
  for (double v : values) s.mean += v;
  s.mean /= s.n;
  if (s.n < 2) {
    s.std = kNaN;
    return s;
  }
  double ss = 0;
  for (double v : values) ss += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(ss / (s.n - 1));
  return s;
}

PairedTest paired_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  MMAUX_ASSERT(a.size() == b.size(), "paired samples of different sizes");
  std::vector<double> d;
  for (size_t i = 0; i < a.size(); ++i) d.push_back(a[i] - b[i]);
  Summary s = summarize(d);
  PairedTest t;
  t.n = s.n;
  t.mean = s.mean;
  t.std = s.std;
  t.t = kNaN;
  t.p = kNaN;
  // Differences equal up to rounding (e.g. 0.585 - 0.565 vs 0.535 - 0.515) have no spread.
  if (s.n < 2 || !(s.std > 1e-12 * std::max(1.0, std::fabs(s.mean)))) return t;
  t.t = s.mean / (s.std / std::sqrt(static_cast<double>(s.n)));
  boost::math::students_t dist(s.n - 1);
  t.p = 2 * boost::math::cdf(boost::math::complement(dist, std::fabs(t.t)));
  return t;
}

Aggregate collect_runs(const fs::path& runs_dir) {
  MMAUX_CHECK_DATA(fs::is_directory(runs_dir),
                   "runs directory '{}' does not exist; give the --runs directory of a sweep",
                   runs_dir.string());
  Aggregate agg;
  agg.runs_dir = runs_dir;
  std::map<std::string, Group> by_key;
  for (auto it = fs::recursive_directory_iterator(runs_dir); it != fs::end(it); ++it) {
    if (!it->is_directory()) continue;
    const fs::path& dir = it->path();
    if (dir.filename().string().rfind('.', 0) == 0 || dir.filename() == "aggregate") {
      it.disable_recursion_pending();
      continue;
    }
    if (!fs::exists(dir / "results.json") && !fs::exists(dir / "run.json")) continue;
    it.disable_recursion_pending();
    if (is_pretraining_run(dir)) {
      agg.pretraining_runs.push_back(dir);
      continue;
    }
    RunRecord rec = read_run(dir);
    std::map<std::string, std::string> key = rec.key;
    if (key.empty()) key["(dir)"] = dir.string();  // unreadable and unplanned: its own group
    Group& g = by_key[serialize(key)];
    if (g.key.empty()) {
      g.key = key;
      g.loss_setting = rec.loss_setting;
    }
    if (g.dataset.empty()) g.dataset = rec.dataset;
    if (g.model.empty()) g.model = rec.model;
    if (rec.has_result) {
      g.done.push_back(rec.result);
    } else {
      g.missing.push_back(rec.missing);
    }
  }
  std::sort(agg.pretraining_runs.begin(), agg.pretraining_runs.end());
  MMAUX_CHECK_DATA(!by_key.empty() || !agg.pretraining_runs.empty(),
                   "no run directories (with results.json or run.json) under '{}'; run "
                   "'mmaux sweep' first or point to its --runs directory",
                   runs_dir.string());
  MMAUX_CHECK_DATA(!by_key.empty(),
                   "'{}' holds only pretraining runs ({}, e.g. '{}'), which have no "
                   "classification scores to tabulate; aggregate the fine-tuning runs that "
                   "start from their towers",
                   runs_dir.string(), agg.pretraining_runs.size(),
                   agg.pretraining_runs.front().string());
  for (auto& [k, g] : by_key) {
    summarize_group(g);
    agg.groups.push_back(g);
  }
  fill_variants(agg.groups);
  pair_with_baselines(agg.groups);
  std::sort(agg.groups.begin(), agg.groups.end(), [](const Group& a, const Group& b) {
    return std::make_tuple(a.dataset, a.model, a.variant.empty() ? "" : a.variant,
                           loss_rank(a.loss_setting)) <
           std::make_tuple(b.dataset, b.model, b.variant, loss_rank(b.loss_setting));
  });
  return agg;
}

}  // namespace mmaux::launch
