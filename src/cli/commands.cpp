#include "cli/command.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "mmaux/core/version.h"

namespace mmaux::cli {

std::vector<Command> all_commands() {
  return {make_preprocess_command(), make_synth_command(), make_train_command(),
          make_pretrain_command(),   make_eval_command(),  make_predict_command(),
          make_export_command(),     make_sweep_command(), make_aggregate_command(),
          make_version_command()};
}

OptionValues option_values(const OptionSet& set) {
  OptionValues out;
  for (const auto& g : set.groups())
    for (const auto& e : g.entries)
      out[e.name] = OptionValue{e.print(), e.trajectory, e.stopping, e.default_text};
  return out;
}

std::string slurm_job_of_this_process() {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return v == nullptr ? std::string() : std::string(v);
  };
  const std::string array = env("SLURM_ARRAY_JOB_ID");
  const std::string task = env("SLURM_ARRAY_TASK_ID");
  if (!array.empty() && !task.empty()) return array + "_" + task;
  return env("SLURM_JOB_ID");
}

Command make_version_command() {
  Command c;
  c.name = "version";
  c.summary = "print the version and build information";
  c.usage = "mmaux version";
  c.example = "mmaux version";
  c.declare = [](OptionSet&) {};
  c.run = [] {
    std::fputs(build_summary().c_str(), stdout);
    return 0;
  };
  return c;
}

}  // namespace mmaux::cli
