#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "mmaux/core/error.h"
#include "mmaux/train/trainer.h"

namespace mmaux::cli {

void checkpoint_run_config(const std::string& checkpoint, RunConfig& run, LogOptions& log,
                           OptionSet& set) {
  // The checkpoint's own configuration rebuilds the model and names the data.
  std::string ini = (std::filesystem::path(checkpoint) / "config.ini").string();
  MMAUX_CHECK_CONFIG(std::filesystem::exists(ini),
                     "'{}' has no config.ini: give the best/ directory of a run written by "
                     "'mmaux train'",
                     checkpoint);
  declare_data_options(set, run.data);
  declare_model_options(set, run.model);
  declare_loss_options(set, run.loss);
  declare_train_options(set, run.train);
  declare_dist_options(set, run.dist);
  declare_log_options(set, log);
  parse_options({"--config", ini}, set, {});
}

Command make_eval_command() {
  struct State {
    LogOptions log;
    EvalOptions eval;
    std::string data_dir;
    DistOptions dist;
    dist::Topology topology;
  };
  auto s = std::make_shared<State>();
  Command c;
  c.name = "eval";
  c.summary = "re-score a checkpoint on a split and write predictions as CSV";
  c.usage = "mmaux eval --checkpoint DIR [--split test] [options]";
  c.example = "mmaux eval --checkpoint runs/demo/ce-s1/best --split test";
  c.distributed = true;
  c.log = &s->log;
  c.topology = &s->topology;
  c.declare = [s](OptionSet& set) {
    declare_eval_options(set, s->eval);
    set.group("Data").add(
        "data-dir", &s->data_dir,
        "preprocessed data directory (\"\" = the one the checkpoint was trained on)");
    declare_dist_options(set, s->dist);
    declare_log_options(set, s->log);
  };
  c.run_with_options = [s](const OptionSet&) {
    RunConfig run;
    LogOptions unused;
    OptionSet set;
    checkpoint_run_config(s->eval.checkpoint, run, unused, set);
    run.dist = s->dist;
    run.topology = s->topology;
    if (!s->data_dir.empty()) run.data.dir = s->data_dir;
    run.config_ini = format_config(set);
    run.options = option_values(set);
    run.batch_job = slurm_job_of_this_process();
    train::EvalRequest req{s->eval.checkpoint, s->eval.split, s->eval.out};
    return train::run_evaluation(run, req);
  };
  return c;
}

}  // namespace mmaux::cli
