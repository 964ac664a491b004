#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "mmaux/launch/aggregate.h"

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
  c.example = "mmaux aggregate runs/tiny --metric weighted_f1";
  c.distributed = false;
  c.positional = {"runs-dir"};
  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_aggregate_options(set, s->aggregate);
    declare_log_options(set, s->log);
  };
  c.run = [s] {
    namespace fs = std::filesystem;
    const AggregateOptions& o = s->aggregate;
    launch::Aggregate agg = launch::collect_runs(o.runs_dir);
    std::fputs(launch::format_terminal(agg).c_str(), stdout);
    if (!agg.pretraining_runs.empty())
      std::printf("left out %zu pretraining run(s) (no classification scores), e.g. %s\n",
                  agg.pretraining_runs.size(), agg.pretraining_runs.front().string().c_str());
    std::string relations = launch::format_relations(agg);
    if (!relations.empty()) std::fputs(("\n" + relations).c_str(), stdout);
    fs::path out = o.out.empty() ? fs::path(o.runs_dir) / "aggregate" : fs::path(o.out);
    for (const auto& f : launch::write_aggregate(agg, out, o.metric, o.figure))
      std::printf("wrote %s\n", f.string().c_str());
    return 0;
  };
  return c;
}

}  // namespace mmaux::cli
