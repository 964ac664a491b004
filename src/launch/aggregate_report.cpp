// The reports of `mmaux aggregate`: terminal table, Markdown, CSV, LaTeX and the gnuplot figure.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "launch/loss_settings.h"
#include "launch/process.h"
#include "mmaux/core/csv.h"
#include "mmaux/core/error.h"
#include "mmaux/core/log.h"
#include "mmaux/launch/aggregate.h"

namespace mmaux::launch {
namespace fs = std::filesystem;
namespace {

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
  return g.variant.empty() ? detail::loss_label(g.loss_setting)
                           : fmt::format("{} [{}]", detail::loss_label(g.loss_setting), g.variant);
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

// Aligns rows into columns (widths in UTF-8 code points, for ± and Δ).
std::string render_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(rows[0].size(), 0);
  auto display = [](const std::string& s) {
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
  return out;
}

std::string format_terminal(const Aggregate& a) {
  std::vector<std::vector<std::string>> rows = {{"data set", "model", "loss", "seeds",
                                                 "weighted F1", "macro F1", "Δ weighted F1 vs CE",
                                                 "Δ macro F1 vs CE", "missing"}};
  for (const auto& g : a.groups)
    rows.push_back({g.dataset, g.model, label(g), seeds_text(g), mean_std(g.weighted_f1),
                    mean_std(g.macro_f1), delta_text(g, g.delta_weighted_f1),
                    delta_text(g, g.delta_macro_f1), missing_text(g)});
  std::string out = render_table(rows);
  out +=
      "F1 in %, mean ± sample std over seeds (test split, best-validation checkpoint); Δ: "
      "paired over seeds present in both settings, two-sided paired t-test.\n";
  for (const auto& g : a.groups)
    for (const auto& m : g.missing)
      out += fmt::format("missing: {} / {} / {} seed {}: {} ({}); log {}\n", g.dataset, g.model,
                         label(g), m.seed, m.state, m.detail, m.log.string());
  return out;
}

std::string format_relations(const Aggregate& a) {
  std::vector<std::string> relations;
  for (const auto& g : a.groups)
    for (const auto& [name, s] : g.relation_macro_f1)
      if (std::find(relations.begin(), relations.end(), name) == relations.end())
        relations.push_back(name);
  if (relations.empty()) return "";
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"data set", "model", "loss"});
  for (const auto& r : relations) rows[0].push_back(r);
  for (const auto& g : a.groups) {
    std::vector<std::string> row = {g.dataset, g.model, label(g)};
    for (const auto& r : relations) {
      auto it = g.relation_macro_f1.find(r);
      row.push_back(it == g.relation_macro_f1.end() ? "-" : mean_std(it->second));
    }
    rows.push_back(row);
  }
  return "Test macro F1 (%) by image-text relation, mean ± sample std over seeds:\n" +
         render_table(rows);
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
  std::string relations = format_relations(a);
  if (!relations.empty()) out += "\n```\n" + relations + "```\n";
  return out;
}

std::string format_csv(const Aggregate& a) {
  auto num = [](double v) { return std::isnan(v) ? std::string() : fmt::format("{:.6f}", v); };
  std::string out =
      "dataset,model,loss_setting,variant,seeds_done,seeds_missing,weighted_f1_mean,"
      "weighted_f1_std,macro_f1_mean,macro_f1_std,delta_weighted_f1_mean,delta_weighted_f1_std,"
      "delta_weighted_f1_p,delta_macro_f1_mean,delta_macro_f1_std,delta_macro_f1_p,pairs,"
      "missing\n";
  for (const auto& g : a.groups) {
    bool d = g.has_baseline && g.delta_macro_f1.n > 0;
    out += fmt::format(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", csv_quote(g.dataset),
        csv_quote(g.model), g.loss_setting, csv_quote(g.variant), g.done.size(), g.missing.size(),
        g.done.empty() ? "" : num(g.weighted_f1.mean), num(g.weighted_f1.std),
        g.done.empty() ? "" : num(g.macro_f1.mean), num(g.macro_f1.std),
        d ? num(g.delta_weighted_f1.mean) : "", d ? num(g.delta_weighted_f1.std) : "",
        d ? num(g.delta_weighted_f1.p) : "", d ? num(g.delta_macro_f1.mean) : "",
        d ? num(g.delta_macro_f1.std) : "", d ? num(g.delta_macro_f1.p) : "",
        d ? g.delta_macro_f1.n : 0, csv_quote(missing_text(g)));
  }
  return out;
}

std::string format_latex(const Aggregate& a, ReportMetric metric) {
  bool macro = metric == ReportMetric::kMacroF1;
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

namespace {

const Summary& summary_of(const Group& g, ReportMetric metric) {
  return metric == ReportMetric::kMacroF1 ? g.macro_f1 : g.weighted_f1;
}

// The figure's clusters (data set × model × variant) and their bars (one per loss setting).
struct FigureLayout {
  std::vector<std::string> clusters;
  std::map<std::string, std::map<std::string, const Group*>> bars;
  bool has_result(const std::string& cluster, const std::string& loss_setting) const {
    auto c = bars.find(cluster);
    if (c == bars.end()) return false;
    auto b = c->second.find(loss_setting);
    return b != c->second.end() && !b->second->done.empty();
  }
};

FigureLayout figure_layout(const Aggregate& a) {
  FigureLayout f;
  for (const auto& g : a.groups) {
    std::string c = g.dataset + "/" + g.model + (g.variant.empty() ? "" : " " + g.variant);
    if (std::find(f.clusters.begin(), f.clusters.end(), c) == f.clusters.end())
      f.clusters.push_back(c);
    f.bars[c][g.loss_setting] = &g;
  }
  return f;
}

std::string figure_data(const FigureLayout& f, ReportMetric metric) {
  std::string dat = "# cluster";
  for (const auto& l : detail::loss_settings()) dat += fmt::format(" {0}_mean {0}_std", l);
  dat += "\n";
  for (const auto& c : f.clusters) {
    dat += "\"" + c + "\"";
    for (const auto& l : detail::loss_settings()) {
      if (!f.has_result(c, l)) {
        dat += " - -";
        continue;
      }
      const Summary& s = summary_of(*f.bars.at(c).at(l), metric);
      dat += fmt::format(" {:.4f} {:.4f}", 100 * s.mean, s.n < 2 ? 0.0 : 100 * s.std);
    }
    dat += "\n";
  }
  return dat;
}

std::string image_name(FigureFormat figure) {
  return figure == FigureFormat::kSvg ? "figure.svg" : "figure.png";
}

std::string gnuplot_script(const FigureLayout& f, ReportMetric metric, FigureFormat figure) {
  // Plot only the loss settings that have results somewhere (gnuplot warns about empty columns).
  std::vector<std::string> series;
  for (size_t i = 0; i < detail::loss_settings().size(); ++i) {
    bool any = false;
    for (const auto& c : f.clusters) any = any || f.has_result(c, detail::loss_settings()[i]);
    if (any)
      series.push_back(fmt::format("'figure.dat' using {}:{}:xtic(1) title '{}'", 2 + 2 * i,
                                   3 + 2 * i, detail::loss_label(detail::loss_settings()[i])));
  }
  std::string terminal = figure == FigureFormat::kSvg ? "svg size 900,500 dynamic"
                                                      : "pngcairo size 900,500 font ',10'";
  std::string name = metric == ReportMetric::kMacroF1 ? "macro F1" : "weighted F1";
  return fmt::format(
      "# Generated by mmaux aggregate; run with: gnuplot figure.gp\n"
      "set terminal {}\nset output '{}'\n"
      "set title 'Test {} over seeds (mean and sample std)' noenhanced\nset ylabel '{} (%)'\n"
      "set datafile missing '-'\nset style data histogram\n"
      "set style histogram errorbars gap 1 lw 1\nset style fill solid 0.7 border -1\n"
      "set key outside right top noenhanced\nset yrange [0:*]\n"
      "set xtics rotate by -20 noenhanced\nset grid ytics\nplot {}\n",
      terminal, image_name(figure), name, name,
      fmt::format("{}", fmt::join(series, ", \\\n     ")));
}

// Runs gnuplot in `out_dir`; true when the image was drawn (a failure is a warning).
bool draw_figure(const fs::path& out_dir, FigureFormat figure) {
  // gnuplot reads figure.dat relative to its working directory: run it there.
  detail::ProcessResult r = detail::run_process(
      {"sh", "-c", "cd \"$1\" && exec gnuplot figure.gp", "sh", out_dir.string()}, false);
  const std::string image = image_name(figure);
  if (r.exit_code == 0 && fs::exists(out_dir / image)) return true;
  if (r.exit_code == 127) {
    log_warn("aggregate",
             "gnuplot is not installed; no {} (install gnuplot-nox, then run "
             "'gnuplot figure.gp' in {})",
             image, out_dir.string());
  } else {
    log_warn("aggregate", "gnuplot failed (exit {}); figure.gp and figure.dat are in {}",
             r.exit_code, out_dir.string());
  }
  return false;
}

}  // namespace

std::vector<fs::path> write_aggregate(const Aggregate& a, const fs::path& out_dir,
                                      ReportMetric metric, FigureFormat figure) {
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
  FigureLayout layout = figure_layout(a);
  put("figure.dat", figure_data(layout, metric));
  put("figure.gp", gnuplot_script(layout, metric, figure));
  if (figure != FigureFormat::kNone && draw_figure(out_dir, figure))
    written.push_back(out_dir / image_name(figure));
  return written;
}

}  // namespace mmaux::launch
