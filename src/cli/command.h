#pragma once
// Private to the CLI: the table of `mmaux <command>` subcommands.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/option_set.h"
#include "mmaux/config/data_options.h"
#include "mmaux/config/dist_options.h"
#include "mmaux/config/launch_options.h"
#include "mmaux/config/log_options.h"
#include "mmaux/config/loss_options.h"
#include "mmaux/config/model_options.h"
#include "mmaux/config/run_config.h"
#include "mmaux/config/train_options.h"
#include "mmaux/dist/topology.h"

namespace mmaux::cli {

struct Command {
  std::string name;
  std::string summary;
  std::string usage;    ///< "mmaux synth --out DIR [options]"
  std::string example;  ///< one complete example command line
  std::vector<std::string> positional;
  bool distributed = false;  ///< initialise the distributed runtime before run()
  std::function<void(OptionSet&)> declare;
  std::function<int()> run;  ///< the command (or run_with_options)
  /// Like run, for commands that need the parsed options themselves (effective configuration).
  std::function<int(const OptionSet&)> run_with_options;
  LogOptions* log = nullptr;  ///< the command's [log] options, applied before run()
  /// Distributed commands: receives dist::init_runtime's result before run().
  dist::Topology* topology = nullptr;
};

std::vector<Command> all_commands();

/// Every option of `set` (dotted names): value text, trajectory and stopping flags.
OptionValues option_values(const OptionSet& set);

/// The Slurm job of this process from its environment: "ARRAYJOB_TASK" in a job array, else
/// "JOBID"; "" outside Slurm.
std::string slurm_job_of_this_process();

Command make_version_command();
Command make_synth_command();
Command make_preprocess_command();
/// The options and the run of `mmaux train` and `mmaux pretrain` (run.pretrain.on), which
/// differ in their objective's options.
struct TrainingRun {
  LogOptions log;
  RunConfig run;
};
/// A command without its name and texts that trains per `run` (shared by both commands).
Command training_run_command(const std::shared_ptr<TrainingRun>& run);
Command make_train_command();
Command make_pretrain_command();
Command make_eval_command();
Command make_sweep_command();
Command make_predict_command();
Command make_export_command();

/// Fills `run` (and `log`, whose values a run ignores) from the config.ini of a model directory
/// written by mmaux train, through `set` (empty; its options are declared here, bound to the
/// fields of `run` and `log`, which must outlive it). Throws ConfigError naming the directory
/// when it has no config.ini.
void checkpoint_run_config(const std::string& checkpoint, RunConfig& run, LogOptions& log,
                           OptionSet& set);
Command make_aggregate_command();

// Option groups, one per option struct; names as in configs/*.ini.
void declare_log_options(OptionSet& set, LogOptions& o);
void declare_dist_options(OptionSet& set, DistOptions& o);
void declare_data_options(OptionSet& set, DataOptions& o);
void declare_synth_options(OptionSet& set, SynthOptions& o);
void declare_preprocess_options(OptionSet& set, PreprocessOptions& o);
void declare_model_options(OptionSet& set, ModelOptions& o);
void declare_loss_options(OptionSet& set, LossOptions& o);
/// [pretrain]: the MLM settings and the ITC / ITM fields of `l` under pretrain.* names.
void declare_pretrain_options(OptionSet& set, PretrainOptions& p, LossOptions& l);
void declare_train_options(OptionSet& set, TrainOptions& o);
void declare_eval_options(OptionSet& set, EvalOptions& o);
void declare_sweep_options(OptionSet& set, SweepOptions& o);
void declare_aggregate_options(OptionSet& set, AggregateOptions& o);

}  // namespace mmaux::cli
