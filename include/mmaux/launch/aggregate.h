#pragma once
/// Aggregation of runs over seeds: groups runs by everything but the seed, reports per data set ×
/// model × loss setting the number of seeds, mean ± sample std of the test weighted and macro F1
/// (the test block of results.json: the checkpoint with the best validation score), and the
/// difference to the CE-only setting of the same group, paired by seed, with a two-sided paired
/// t-test. Runs without results (failed, interrupted, never started) are listed per group.
///
/// Grouping key: a run directory written by `mmaux sweep` has run.json; its options without
/// train.seed are the key. A directory with only results.json is keyed by the options its
/// "trajectory_keys" names (those that change the result, as the option table declares them)
/// without train.seed, plus the data's fingerprint, so runs made by hand group the same way
/// wherever their data and run directories are. results.json files written before
/// trajectory_keys existed are keyed by their "config" without the seed and the bookkeeping
/// options of that time (train.out, train.resume, train.log-every, train.keep-last,
/// train.checkpoint-every, train.device, log.*, dist.*, data.prefetch, data.loader-threads).

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mmaux/config/launch_options.h"

namespace mmaux::launch {

/// n, mean and sample standard deviation (n - 1 in the denominator; NaN when n < 2).
struct Summary {
  int n = 0;
  double mean = 0;
  double std = 0;
};
Summary summarize(const std::vector<double>& values);

/// Paired comparison of a[i] - b[i]: mean and sample std of the differences, t = mean / (std /
/// sqrt(n)) with n - 1 degrees of freedom and its two-sided p-value (Student's t). t and p are
/// NaN when n < 2 or the differences do not vary.
struct PairedTest {
  int n = 0;
  double mean = 0;
  double std = 0;
  double t = 0;
  double p = 0;
};
PairedTest paired_t_test(const std::vector<double>& a, const std::vector<double>& b);

struct SeedResult {
  std::string seed;
  double weighted_f1 = 0;
  double macro_f1 = 0;
  /// Test macro F1 per image-text relation (results.json "test_by_relation"; empty when the data
  /// set records no relation).
  std::map<std::string, double> relation_macro_f1;
  std::filesystem::path dir;
};

struct MissingSeed {
  std::string seed;
  std::string state;  ///< failed | interrupted | pending | unreadable
  std::string detail;
  std::filesystem::path log;
};

struct Group {
  std::string dataset;
  std::string model;
  std::string loss_setting;  ///< ce | itc | itm | itc+itm
  std::string variant;       ///< options that tell apart groups with the same three labels
  std::map<std::string, std::string> key;
  std::vector<SeedResult> done;  ///< sorted by seed
  std::vector<MissingSeed> missing;
  Summary weighted_f1;
  Summary macro_f1;
  std::map<std::string, Summary> relation_macro_f1;  ///< per relation, over the seeds that have it
  bool has_baseline = false;  ///< a CE-only group with the same other options exists
  PairedTest delta_weighted_f1;
  PairedTest delta_macro_f1;
};

struct Aggregate {
  std::filesystem::path runs_dir;
  std::vector<Group> groups;  ///< sorted: data set, model, variant, loss setting
  /// `mmaux pretrain` runs found below runs_dir (results.json "kind": "pretrain", or run.json
  /// "command": "pretrain"): not in the tables, which are of classification scores; sorted.
  std::vector<std::filesystem::path> pretraining_runs;
};

/// Reads every run directory below `runs_dir` (directories with results.json or run.json;
/// hidden directories skipped; pretraining runs listed apart). Throws DataError when there is
/// none, or when all of them are pretraining runs.
Aggregate collect_runs(const std::filesystem::path& runs_dir);

std::string format_terminal(const Aggregate& a);
std::string format_markdown(const Aggregate& a);
std::string format_csv(const Aggregate& a);
/// Test macro F1 per image-text relation and setting (mean ± std over seeds); "" when no run
/// recorded relations.
std::string format_relations(const Aggregate& a);
/// The test `metric` per model × loss setting (rows) and data set (columns).
std::string format_latex(const Aggregate& a, ReportMetric metric);

/// Writes aggregate.md, aggregate.csv, aggregate.tex, figure.dat and figure.gp into `out_dir`
/// and draws figure.png or figure.svg (unless `figure` is kNone) with gnuplot. Returns the
/// files written; a figure that could not be drawn is reported with a warning, not an error.
std::vector<std::filesystem::path> write_aggregate(const Aggregate& a,
                                                   const std::filesystem::path& out_dir,
                                                   ReportMetric metric, FigureFormat figure);

}  // namespace mmaux::launch
