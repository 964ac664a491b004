#pragma once
/// Everything a training or evaluation run is configured with: the typed option sections, the
/// effective configuration as text, and every option's value with whether it changes the result.

#include <map>
#include <string>
#include <vector>

#include "mmaux/config/data_options.h"
#include "mmaux/config/dist_options.h"
#include "mmaux/config/loss_options.h"
#include "mmaux/config/model_options.h"
#include "mmaux/config/pretrain_options.h"
#include "mmaux/config/train_options.h"
#include "mmaux/dist/topology.h"

namespace mmaux {

/// One option of the effective configuration.
struct OptionValue {
  std::string text;  ///< the value as INI text
  /// True when the value can change what the run computes (its trajectory: losses, weights,
  /// scores); false for bookkeeping (where files go, logging, checkpoint cadence, threads). The
  /// option table of the CLI declares it once per option; a resumed run must match its
  /// checkpoint on every trajectory option, and `mmaux aggregate` groups runs by them.
  bool trajectory = true;
  /// A stopping criterion (train.max-steps, train.epochs): a trajectory option that only says
  /// where the trajectory ends, not which one it is. A resumed run may change it (an extension,
  /// recorded in results.json); `mmaux aggregate` still groups by its final value.
  bool stopping = false;
  /// The option's default as INI text: a checkpoint written before the option existed ran with
  /// it, so a resumed run at this value does not conflict with the checkpoint's absent entry.
  std::string default_text{};
};

/// Dotted option name ("train.lr") -> value.
using OptionValues = std::map<std::string, OptionValue>;

struct RunConfig {
  DataOptions data;
  ModelOptions model;
  LossOptions loss;
  TrainOptions train;
  DistOptions dist;
  PretrainOptions pretrain;  ///< `mmaux pretrain` (pretrain.on) and its MLM settings
  std::string config_ini;    ///< effective configuration (INI text)
  OptionValues options;      ///< every option of the run, by dotted name
  dist::Topology topology;   ///< this process in the job: dist::init_runtime's result (the CLI's)
  /// The batch job running this process (Slurm: "JOBID", or "ARRAYJOB_TASK" in a job array); ""
  /// outside one. The run directory's lock records it, so that a refused writer learns which job
  /// holds the run.
  std::string batch_job;
};

/// The names of the trajectory options, sorted.
std::vector<std::string> trajectory_keys(const OptionValues& options);

/// Name -> value text of every option (as state.json and results.json record the configuration).
std::map<std::string, std::string> option_texts(const OptionValues& options);

/// The model options the run builds its model with: in paper mode (train.paper) an `auto`
/// model.vit-interpolation becomes scale-factor, the formula of the paper's transformers 4.25.1,
/// and ModelOptions::paper is set (lxmert detaches its ITC text vector); every other value is
/// kept. Not collective.
ModelOptions run_model_options(const RunConfig& config);

/// Checks the rules that involve more than one option (single values are checked when parsed):
///   - data.dir is given;
///   - the CE weight is not negative (loss.ce < 0 means 1 - loss.itc - loss.itm);
///   - at least one loss weight is positive;
///   - pretraining (pretrain.on): CE weight 0, a dual-stream model (ber-vit-concat, ber-vit-att);
///   - train.paper (constant learning rate) goes with train.schedule = constant and no warmup;
///   - dist.backend fits train.device (mpi moves CPU tensors, nccl CUDA tensors).
/// Throws ConfigError naming the options, their values and the fix. Not collective.
void validate(const RunConfig& config);

}  // namespace mmaux
