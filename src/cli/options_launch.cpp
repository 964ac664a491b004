#include "cli/command.h"

namespace mmaux::cli {

void declare_sweep_options(OptionSet& set, SweepOptions& o) {
  set.group("Sweep")
      .add("spec", &o.spec, "sweep INI file", required("give --spec FILE"))
      .add("runs", &o.runs, "directory holding one directory per run (\"\" = [sweep] runs)")
      .add("submit", &o.submit, "submit one Slurm job array instead of running locally")
      .add("dry-run", &o.dry_run,
           "print the plan (and with --submit the batch script); run nothing")
      .add("ranks", &o.ranks, "ranks per run (0 = [sweep] ranks of the spec)", int_range(0, 65536))
      .add("run", &o.run, "run only the run with this id (ids: see --dry-run)");
}

void declare_aggregate_options(OptionSet& set, AggregateOptions& o) {
  set.group("Aggregation")
      .add("runs-dir", &o.runs_dir, "directory of runs (positional)", required("give RUNS_DIR"))
      .add("out", &o.out, "output directory (\"\" = RUNS_DIR/aggregate)")
      .add("metric", &o.metric, "metric of the LaTeX table and the figure")
      .add("figure", &o.figure, "figure format: png, svg or none");
}

}  // namespace mmaux::cli
