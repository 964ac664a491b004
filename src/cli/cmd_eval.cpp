#include <memory>

#include "cli/command.h"

namespace mmaux::cli {

Command make_eval_command() {
  struct State {
    LogOptions log;
    EvalOptions eval;
    DataOptions data;
    DistOptions dist;
  };
  auto s = std::make_shared<State>();
  Command c;
  c.name = "eval";
  c.summary = "re-score a checkpoint on a split and write predictions as CSV";
  c.usage = "mmaux eval --checkpoint DIR [--split test] [options]";
  c.example = "mmaux eval --checkpoint runs/demo/best --split test";
  c.issue = 6;
  c.distributed = true;

  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_eval_options(set, s->eval);
    declare_data_options(set, s->data);
    declare_dist_options(set, s->dist);
    declare_log_options(set, s->log);
  };
  return c;
}

}  // namespace mmaux::cli
