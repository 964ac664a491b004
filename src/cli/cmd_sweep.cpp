#include <memory>

#include "cli/command.h"

namespace mmaux::cli {

Command make_sweep_command() {
  struct State {
    LogOptions log;
    SweepOptions sweep;
  };
  auto s = std::make_shared<State>();
  Command c;
  c.name = "sweep";
  c.summary =
      "expand a sweep file into runs; run them locally, submit a Slurm array or print the plan";
  c.usage = "mmaux sweep --spec FILE [--submit | --dry-run] [options]";
  c.example = "mmaux sweep --spec configs/sweeps/demo.ini --dry-run";
  c.issue = 7;
  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_sweep_options(set, s->sweep);
    declare_log_options(set, s->log);
  };
  return c;
}

}  // namespace mmaux::cli
