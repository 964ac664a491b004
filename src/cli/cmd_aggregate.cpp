#include <memory>

#include "cli/command.h"

namespace mmaux::cli {

Command make_aggregate_command() {
  struct State {
    LogOptions log;
    AggregateOptions aggregate;
  };
  auto s = std::make_shared<State>();
  Command c;
  c.name = "aggregate";
  c.summary = "mean ± std over seeds per data set × model × loss setting, as tables and a figure";
  c.usage = "mmaux aggregate RUNS_DIR [options]";
  c.example = "mmaux aggregate runs/sweep";
  c.issue = 7;
  c.distributed = false;
  c.positional = {"runs-dir"};
  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_aggregate_options(set, s->aggregate);
    declare_log_options(set, s->log);
  };
  return c;
}

}  // namespace mmaux::cli
