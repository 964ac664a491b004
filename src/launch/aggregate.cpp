#include "mmaux/launch/aggregate.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "launch/process.h"
#include "mmaux/core/error.h"
#include "mmaux/core/log.h"
#include "mmaux/launch/sweep.h"

namespace mmaux::launch {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const std::vector<std::string> kLossOrder = {"ce", "itc", "itm", "itc+itm"};
// Options that do not change what a run computes, only where and how it is run.
const std::vector<std::string> kBookkeepingPrefixes = {"train.seed",
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

bool is_bookkeeping(const std::string& key) {
  for (const auto& p : kBookkeepingPrefixes)
    if (key == p || (p.back() == '.' && key.rfind(p, 0) == 0)) return true;
  return false;
}

std::string loss_label(const std::string& s) {
  if (s == "ce") return "CE";
  if (s == "itc") return "+ITC";
  if (s == "itm") return "+ITM";
  if (s == "itc+itm") return "+ITC+ITM";
  return s;
}

int loss_rank(const std::string& s) {
  auto it = std::find(kLossOrder.begin(), kLossOrder.end(), s);
  return static_cast<int>(it - kLossOrder.begin());
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
std::string read_scores(const json& r, SeedResult& out) {
  if (!r.is_object() || !r.contains("test") || !r["test"].is_object())
    return "results.json has no \"test\" object";
  for (const char* name : {"weighted_f1", "macro_f1"}) {
    const json& t = r["test"];
    if (!t.contains(name) || !t[name].is_number())
      return fmt::format("results.json test.{} is missing or not a number", name);
    double v = t[name].get<double>();
    if (!(v >= 0 && v <= 1))
      return fmt::format("results.json test.{} = {} is not a fraction in [0, 1]", name, v);
    (std::string(name) == "macro_f1" ? out.macro_f1 : out.weighted_f1) = v;
  }
  return "";
}

struct RunRecord {
  std::map<std::string, std::string> key;
  std::string seed, dataset, model, loss_setting, itm_mode;
  bool has_result = false;
  SeedResult result;
  MissingSeed missing;
};

RunRecord read_run(const fs::path& dir) {
  RunRecord rec;
  std::string error;
  json results = nullptr;
  if (fs::exists(dir / "results.json")) results = read_json(dir / "results.json", error);
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
  } else if (results.is_object()) {
    const json config = results.value("config", json::object());
    for (const auto& [k, v] : config.items())
      if (!is_bookkeeping(k)) rec.key[k] = value_text(v);
    rec.seed = value_text(results.value("seed", json("?")));
    rec.loss_setting = results.value("loss_setting", std::string("ce"));
  }
  if (results.is_object()) {
    rec.dataset = results.value("dataset", rec.dataset);
    rec.model = results.value("model", rec.model);
    rec.itm_mode = results.value("itm_mode", std::string());
    std::string bad = read_scores(results, rec.result);
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

std::string pct(double v) { return std::isnan(v) ? "n/a" : fmt::format("{:.2f}", 100 * v); }

std::string mean_std(const Summary& s) {
  if (s.n == 0) return "n/a";
  return fmt::format("{} ± {}", pct(s.mean), s.n < 2 ? "n/a" : pct(s.std));
}

std::string delta_text(const Group& g, const PairedTest& d) {
  if (g.loss_setting == "ce") return "(baseline)";
  if (!g.has_baseline) return "no CE run";
  if (d.n == 0) return "no paired seeds";
  std::string out = fmt::format("{:+.2f} ± {}", 100 * d.mean, d.n < 2 ? "n/a" : pct(d.std));
  out += std::isnan(d.p) ? fmt::format(" (n={})", d.n) : fmt::format(" (n={}, p={:.3f})", d.n, d.p);
  return out;
}

std::string seeds_text(const Group& g) {
  return fmt::format("{}/{}", g.done.size(), g.done.size() + g.missing.size());
}

std::string missing_text(const Group& g) {
  std::vector<std::string> parts;
  for (const auto& m : g.missing) parts.push_back(fmt::format("s{} {}", m.seed, m.state));
  return parts.empty() ? "" : fmt::format("{}", fmt::join(parts, ", "));
}

std::string label(const Group& g) {
  return g.variant.empty() ? loss_label(g.loss_setting)
                           : fmt::format("{} [{}]", loss_label(g.loss_setting), g.variant);
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

std::string latex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string("&%$#_{}").find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
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
  MMAUX_CHECK_DATA(!by_key.empty(),
                   "no run directories (with results.json or run.json) under '{}'; run "
                   "'mmaux sweep' first or point to its --runs directory",
                   runs_dir.string());
  for (auto& [k, g] : by_key) {
    if (g.dataset.empty()) g.dataset = "?";
    if (g.model.empty()) g.model = "?";
    std::sort(g.done.begin(), g.done.end(),
              [](const SeedResult& a, const SeedResult& b) { return seed_less(a.seed, b.seed); });
    std::sort(g.missing.begin(), g.missing.end(),
              [](const MissingSeed& a, const MissingSeed& b) { return seed_less(a.seed, b.seed); });
    std::vector<double> w, m;
    for (const auto& r : g.done) {
      w.push_back(r.weighted_f1);
      m.push_back(r.macro_f1);
    }
    g.weighted_f1 = summarize(w);
    g.macro_f1 = summarize(m);
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

std::string format_terminal(const Aggregate& a) {
  std::vector<std::vector<std::string>> rows = {{"data set", "model", "loss", "seeds",
                                                 "weighted F1", "macro F1", "Δ weighted F1 vs CE",
                                                 "Δ macro F1 vs CE", "missing"}};
  for (const auto& g : a.groups)
    rows.push_back({g.dataset, g.model, label(g), seeds_text(g), mean_std(g.weighted_f1),
                    mean_std(g.macro_f1), delta_text(g, g.delta_weighted_f1),
                    delta_text(g, g.delta_macro_f1), missing_text(g)});
  std::vector<size_t> width(rows[0].size(), 0);
  auto display = [](const std::string& s) {  // UTF-8 code points, for ± and Δ
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], display(r[i]));
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i)
      line += r[i] + std::string(width[i] - display(r[i]) + (i + 1 < r.size() ? 2 : 0), ' ');
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  out +=
      "F1 in %, mean ± sample std over seeds (test split, best-validation checkpoint); Δ: "
      "paired over seeds present in both settings, two-sided paired t-test.\n";
  for (const auto& g : a.groups)
    for (const auto& m : g.missing)
      out += fmt::format("missing: {} / {} / {} seed {}: {} ({}); log {}\n", g.dataset, g.model,
                         label(g), m.seed, m.state, m.detail, m.log.string());
  return out;
}

std::string format_markdown(const Aggregate& a) {
  std::string out = fmt::format(
      "# Results in {}\n\nTest F1 (%) at the best-validation checkpoint, mean ± sample std over "
      "seeds. Δ: difference to CE only, paired by seed (mean ± std of the differences), with a "
      "two-sided paired t-test.\n\n| data set | model | loss | seeds | weighted F1 | macro F1 | Δ "
      "weighted F1 | Δ macro F1 | missing seeds |\n|---|---|---|---|---|---|---|---|---|\n",
      a.runs_dir.string());
  for (const auto& g : a.groups)
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", g.dataset, g.model,
                       label(g), seeds_text(g), mean_std(g.weighted_f1), mean_std(g.macro_f1),
                       delta_text(g, g.delta_weighted_f1), delta_text(g, g.delta_macro_f1),
                       missing_text(g));
  bool any = false;
  for (const auto& g : a.groups)
    for (const auto& m : g.missing) {
      if (!any) out += "\n## Missing runs\n\n";
      any = true;
      out += fmt::format("- {} / {} / {} seed {}: {} ({}), log `{}`\n", g.dataset, g.model,
                         label(g), m.seed, m.state, m.detail, m.log.string());
    }
  return out;
}

std::string format_csv(const Aggregate& a) {
  auto q = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  auto num = [](double v) { return std::isnan(v) ? std::string() : fmt::format("{:.6f}", v); };
  std::string out =
      "dataset,model,loss_setting,variant,seeds_done,seeds_missing,weighted_f1_mean,"
      "weighted_f1_std,macro_f1_mean,macro_f1_std,delta_weighted_f1_mean,delta_weighted_f1_std,"
      "delta_weighted_f1_p,delta_macro_f1_mean,delta_macro_f1_std,delta_macro_f1_p,pairs,"
      "missing\n";
  for (const auto& g : a.groups) {
    bool d = g.has_baseline && g.delta_macro_f1.n > 0;
    out +=
        fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", q(g.dataset),
                    q(g.model), g.loss_setting, q(g.variant), g.done.size(), g.missing.size(),
                    g.done.empty() ? "" : num(g.weighted_f1.mean), num(g.weighted_f1.std),
                    g.done.empty() ? "" : num(g.macro_f1.mean), num(g.macro_f1.std),
                    d ? num(g.delta_weighted_f1.mean) : "", d ? num(g.delta_weighted_f1.std) : "",
                    d ? num(g.delta_weighted_f1.p) : "", d ? num(g.delta_macro_f1.mean) : "",
                    d ? num(g.delta_macro_f1.std) : "", d ? num(g.delta_macro_f1.p) : "",
                    d ? g.delta_macro_f1.n : 0, q(missing_text(g)));
  }
  return out;
}

std::string format_latex(const Aggregate& a, const std::string& metric) {
  bool macro = metric == "macro_f1";
  std::vector<std::string> datasets;
  std::vector<std::pair<std::string, std::string>> rows;  // model, loss label (with variant)
  std::map<std::pair<std::string, std::string>, std::map<std::string, const Group*>> cell;
  for (const auto& g : a.groups) {
    if (std::find(datasets.begin(), datasets.end(), g.dataset) == datasets.end())
      datasets.push_back(g.dataset);
    std::pair<std::string, std::string> row{g.model, label(g)};
    if (std::find(rows.begin(), rows.end(), row) == rows.end()) rows.push_back(row);
    cell[row][g.dataset] = &g;
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::string out = fmt::format(
      "% Generated by mmaux aggregate from {}. Needs \\usepackage{{booktabs}}.\n"
      "% Test {} (%), mean and sample std over seeds; superscript n/m: seeds with results / "
      "planned, shown only when some are missing.\n"
      "\\begin{{tabular}}{{ll{}}}\n\\toprule\nModel & Loss & {} \\\\\n\\midrule\n",
      a.runs_dir.string(), macro ? "macro F1" : "weighted F1", std::string(datasets.size(), 'c'),
      fmt::join(
          [&] {
            std::vector<std::string> v;
            for (const auto& d : datasets) v.push_back(latex_escape(d));
            return v;
          }(),
          " & "));
  std::string last_model;
  for (const auto& row : rows) {
    if (!last_model.empty() && row.first != last_model) out += "\\midrule\n";
    std::string line =
        (row.first == last_model ? "" : latex_escape(row.first)) + " & " + latex_escape(row.second);
    last_model = row.first;
    for (const auto& d : datasets) {
      auto it = cell[row].find(d);
      if (it == cell[row].end() || it->second->done.empty()) {
        line += " & --";
        continue;
      }
      const Group& g = *it->second;
      const Summary& s = macro ? g.macro_f1 : g.weighted_f1;
      line += fmt::format(" & {}", pct(s.mean));
      if (s.n >= 2) line += fmt::format("$_{{\\pm {}}}$", pct(s.std));
      if (!g.missing.empty())
        line += fmt::format("$^{{{}/{}}}$", g.done.size(), g.done.size() + g.missing.size());
    }
    out += line + " \\\\\n";
  }
  out += "\\bottomrule\n\\end{tabular}\n";
  return out;
}

std::vector<fs::path> write_aggregate(const Aggregate& a, const fs::path& out_dir,
                                      const std::string& metric, const std::string& figure) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  MMAUX_CHECK(!ec, "cannot create output directory '{}': {}", out_dir.string(), ec.message());
  std::vector<fs::path> written;
  auto put = [&](const std::string& name, const std::string& text) {
    std::ofstream out(out_dir / name);
    out << text;
    MMAUX_CHECK(out.good(), "cannot write '{}'", (out_dir / name).string());
    written.push_back(out_dir / name);
  };
  put("aggregate.md", format_markdown(a));
  put("aggregate.csv", format_csv(a));
  put("aggregate.tex", format_latex(a, metric));
  // Figure: one cluster per data set × model (× variant), one bar per loss setting.
  std::vector<std::string> clusters;
  std::map<std::string, std::map<std::string, const Group*>> bars;
  for (const auto& g : a.groups) {
    std::string c = g.dataset + "/" + g.model + (g.variant.empty() ? "" : " " + g.variant);
    if (std::find(clusters.begin(), clusters.end(), c) == clusters.end()) clusters.push_back(c);
    bars[c][g.loss_setting] = &g;
  }
  std::string dat = "# cluster";
  for (const auto& l : kLossOrder) dat += fmt::format(" {0}_mean {0}_std", l);
  dat += "\n";
  for (const auto& c : clusters) {
    dat += "\"" + c + "\"";
    for (const auto& l : kLossOrder) {
      auto it = bars[c].find(l);
      if (it == bars[c].end() || it->second->done.empty()) {
        dat += " - -";
        continue;
      }
      const Summary& s = metric == "macro_f1" ? it->second->macro_f1 : it->second->weighted_f1;
      dat += fmt::format(" {:.4f} {:.4f}", 100 * s.mean, s.n < 2 ? 0.0 : 100 * s.std);
    }
    dat += "\n";
  }
  put("figure.dat", dat);
  // Plot only the loss settings that have results somewhere (gnuplot warns about empty columns).
  std::vector<std::string> series;
  for (size_t i = 0; i < kLossOrder.size(); ++i) {
    bool any = false;
    for (const auto& c : clusters) {
      auto it = bars[c].find(kLossOrder[i]);
      any = any || (it != bars[c].end() && !it->second->done.empty());
    }
    if (any)
      series.push_back(fmt::format("'figure.dat' using {}:{}:xtic(1) title '{}'", 2 + 2 * i,
                                   3 + 2 * i, loss_label(kLossOrder[i])));
  }
  std::string image = figure == "svg" ? "figure.svg" : "figure.png";
  std::string terminal =
      figure == "svg" ? "svg size 900,500 dynamic" : "pngcairo size 900,500 font ',10'";
  std::string name = metric == "macro_f1" ? "macro F1" : "weighted F1";
  std::string gp = fmt::format(
      "# Generated by mmaux aggregate; run with: gnuplot figure.gp\n"
      "set terminal {}\nset output '{}'\n"
      "set title 'Test {} over seeds (mean and sample std)' noenhanced\nset ylabel '{} (%)'\n"
      "set datafile missing '-'\nset style data histogram\n"
      "set style histogram errorbars gap 1 lw 1\nset style fill solid 0.7 border -1\n"
      "set key outside right top noenhanced\nset yrange [0:*]\n"
      "set xtics rotate by -20 noenhanced\nset grid ytics\nplot {}\n",
      terminal, image, name, name, fmt::format("{}", fmt::join(series, ", \\\n     ")));
  put("figure.gp", gp);
  if (figure == "none") return written;
  // gnuplot reads figure.dat relative to its working directory: run it there.
  detail::ProcessResult r = detail::run_process(
      {"sh", "-c", "cd \"$1\" && exec gnuplot figure.gp", "sh", out_dir.string()}, false);
  if (r.exit_code == 0 && fs::exists(out_dir / image)) {
    written.push_back(out_dir / image);
  } else if (r.exit_code == 127) {
    log_warn("aggregate",
             "gnuplot is not installed; no {} (install gnuplot-nox, then run "
             "'gnuplot figure.gp' in {})",
             image, out_dir.string());
  } else {
    log_warn("aggregate", "gnuplot failed (exit {}); figure.gp and figure.dat are in {}",
             r.exit_code, out_dir.string());
  }
  return written;
}

}  // namespace mmaux::launch
