#pragma once
#include <string>

namespace mmaux {
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
  std::string out;                  ///< "" = RUNS_DIR/aggregate
  std::string metric = "macro_f1";  ///< metric of the LaTeX table and the figure
  std::string figure = "png";       ///< png | svg | none
};
}  // namespace mmaux
