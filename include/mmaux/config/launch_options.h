#pragma once
#include <string>

#include "mmaux/config/enum_names.h"

namespace mmaux {

/// `mmaux aggregate --metric`: the test score of the LaTeX table and the figure.
enum class ReportMetric { kMacroF1, kWeightedF1 };
template <>
struct EnumNames<ReportMetric> {
  static constexpr EnumName<ReportMetric> table[] = {{ReportMetric::kMacroF1, "macro_f1"},
                                                     {ReportMetric::kWeightedF1, "weighted_f1"}};
};

/// `mmaux aggregate --figure`: the figure's file format, or none.
enum class FigureFormat { kPng, kSvg, kNone };
template <>
struct EnumNames<FigureFormat> {
  static constexpr EnumName<FigureFormat> table[] = {
      {FigureFormat::kPng, "png"}, {FigureFormat::kSvg, "svg"}, {FigureFormat::kNone, "none"}};
};
/// Options of `mmaux sweep`.
struct SweepOptions {
  std::string spec;      ///< sweep INI file
  std::string runs;      ///< runs directory ("" = [sweep] runs of the spec, else "runs")
  bool submit = false;   ///< write and submit one Slurm job array
  bool dry_run = false;  ///< print the plan (and the batch script with --submit); run nothing
  int ranks = 0;         ///< ranks per run (0 = [sweep] ranks of the spec, else 1)
  std::string run;       ///< run only this run id ("" = every run)
};

/// Options of `mmaux aggregate`.
struct AggregateOptions {
  std::string runs_dir;
  std::string out;                               ///< "" = RUNS_DIR/aggregate
  ReportMetric metric = ReportMetric::kMacroF1;  ///< metric of the LaTeX table and the figure
  FigureFormat figure = FigureFormat::kPng;      ///< png | svg | none
};
}  // namespace mmaux
