#include "cli/command.h"

namespace mmaux::cli {

void declare_sweep_options(OptionSet& set, SweepOptions& o) {
  set.group("Sweep")
      .add("spec", &o.spec, "sweep INI file", required("give --spec FILE"))
      .add("runs", &o.runs, "directory holding one directory per run")
      .add("submit", &o.submit, "submit one Slurm job array instead of running locally")
      .add("dry-run", &o.dry_run, "print the plan and exit")
      .add("ranks", &o.ranks, "ranks per run", int_range(1, 4096));
}

void declare_aggregate_options(OptionSet& set, AggregateOptions& o) {
  set.group("Aggregation")
      .add("runs-dir", &o.runs_dir, "directory of runs (positional)", required("give RUNS_DIR"))
      .add("out", &o.out, "output directory (\"\" = RUNS_DIR/aggregate)")
      .add("metric", &o.metric, "metric reported", one_of({"macro_f1", "weighted_f1"}));
}

}  // namespace mmaux::cli
