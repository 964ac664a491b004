#pragma once
/// Sweeps: an INI file of axes (data sets, models, loss settings, seeds, any option) and shared
/// options, expanded into runs with stable ids and directories, run locally one after another or
/// submitted as one Slurm job array.
///
/// Sweep file (every section optional except that a sweep needs at least one run):
///
///     [sweep]
///     name = tiny              ; job name and plan title (default: the file's stem)
///     runs = runs/tiny         ; one directory per run below it (mmaux sweep --runs overrides)
///     ranks = 2                ; ranks per run (mmaux sweep --ranks overrides)
///     config = configs/a.ini   ; --config files given to every run (several: space separated)
///     loss-weight = 0.1        ; lambda of each auxiliary loss in the itc/itm/itc+itm settings
///     command = train          ; train (fine-tuning, default) or pretrain (mmaux pretrain: its
///                              ; pretrain.* options on axes; no loss axis)
///     trainer = mmaux train    ; what each rank runs (default: this mmaux binary + command)
///     [axes]                   ; every combination is one run; values split on spaces/commas
///     loss = ce itc itm itc+itm
///     train.seed = 1 2 3
///     data.dir = data/mvsa data/tir
///     ; a linked axis: options that change together, values joined by ':'
///     model.name+data.dir = ber-vit-concat:data/mvsa-bert vilt:data/mvsa-vilt
///     [options]                ; passed to every run as --key value
///     model.preset = tiny
///     [slurm]                  ; see SlurmSettings
///     node = cpu
///
/// A run id is readable and stable: the values of the axes that vary, then 8 hex digits of a hash
/// of every option the run is given (`mvsa-itc-s2-1a2b3c4d`). The same spec always gives the same
/// ids, so a re-run or re-submission finds the runs that already have results.json.

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mmaux/config/enum_names.h"

namespace mmaux::launch {

/// Which built-in batch template a sweep's jobs use ([slurm] node).
enum class SlurmNode { kCpu, kGpu };

}  // namespace mmaux::launch

namespace mmaux {
template <>
struct EnumNames<launch::SlurmNode> {
  static constexpr EnumName<launch::SlurmNode> table[] = {{launch::SlurmNode::kCpu, "cpu"},
                                                          {launch::SlurmNode::kGpu, "gpu"}};
};
}  // namespace mmaux

namespace mmaux::launch {

/// [slurm] section: resources and preemption of the job array.
struct SlurmSettings {
  SlurmNode node = SlurmNode::kCpu;  ///< cpu | gpu: which built-in batch template
  std::string template_file;         ///< a batch template of one's own ("" = the built-in one)
  std::string partition;             ///< "" = the cluster's default
  std::string account;
  std::string qos;
  std::string time = "01:00:00";
  std::string mem;            ///< per node, e.g. 16G ("" = the cluster's default)
  int signal_before_s = 300;  ///< USR1 to the batch shell this long before the time limit
  int cpus_per_rank = 1;      ///< cpu nodes: cores per rank (the launcher sets threads from it)
  int gpus_per_node = 1;      ///< gpu nodes: GPUs (= ranks) per node
  int max_parallel = 0;       ///< array throttle (%N); 0 = no limit
  std::vector<std::string> extra;  ///< more sbatch options, one #SBATCH line each
};

struct SweepSpec {
  std::string name;
  std::string runs;  ///< "" = not given
  int ranks = 1;
  std::vector<std::string> configs;
  std::string command = "train";     ///< the mmaux command of every run: train or pretrain
  std::vector<std::string> trainer;  ///< empty = the calling mmaux binary + command
  double loss_weight = 0.1;
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;  ///< in file order
  std::map<std::string, std::string> options;
  SlurmSettings slurm;
};

/// Parses a sweep file's text; `origin` names it in errors. Throws ConfigError naming the line,
/// the key and the closest valid key.
SweepSpec parse_sweep_spec(const std::string& text, const std::string& origin);

/// Reads and parses a sweep file. Throws ConfigError when it cannot be read.
SweepSpec read_sweep_spec(const std::filesystem::path& file);

/// Checks every option name of the spec (axes and options) against `known` (the trainer's
/// options: those of spec.command). Throws ConfigError naming the unknown option and the closest
/// known one.
void check_option_names(const SweepSpec& spec, const std::vector<std::string>& known);

/// The loss setting ("ce", "itc", "itm", "itc+itm") from the two auxiliary weights.
std::string loss_setting_name(double itc, double itm);

/// One run of a sweep.
struct RunPlan {
  std::string id;
  std::filesystem::path dir;
  std::map<std::string, std::string> options;  ///< every --key value (loss expanded, seed set)
  std::vector<std::string> configs;            ///< --config files
  std::string loss_setting;  ///< ce, itc, itm, itc+itm; "pretrain" in a pretrain sweep
  std::string seed;
};

/// Expands the axes into runs below `runs_dir`, in axis order (the last axis varies fastest).
/// Throws ConfigError when two runs would get the same id (an axis lists a value twice).
std::vector<RunPlan> expand_sweep(const SweepSpec& spec, const std::filesystem::path& runs_dir);

enum class RunState {
  kPending,      ///< never started
  kDone,         ///< results.json exists
  kInterrupted,  ///< stopped on a signal with a resumable checkpoint (exit 75)
  kFailed,       ///< ended with another exit code, or started and never finished
  kQueued,       ///< its Slurm job is pending or running
};

struct RunStatus {
  RunState state = RunState::kPending;
  int exit_code = -1;  ///< last exit code, -1 when unknown
  std::filesystem::path log;
};

const char* run_state_name(RunState state);

/// The state of a run from its directory: results.json, the exit code file the launcher
/// writes, train.log. `active_jobs` holds Slurm job ids ("123_4") still pending or running.
RunStatus run_status(const RunPlan& run, const std::vector<std::string>& active_jobs = {});

/// Where the tools are: the mmaux binary and the launcher script (launch/mmaux-launch).
struct LaunchTools {
  std::filesystem::path mmaux;
  std::filesystem::path launcher;
};

/// The command every rank of the run executes: trainer, --config files, --train.out RUN_DIR,
/// --train.resume auto, then the run's options.
std::vector<std::string> trainer_command(const SweepSpec& spec, const RunPlan& run,
                                         const LaunchTools& tools);

/// Creates the run directory with run.json (the run's plan, with its "command", read by `mmaux
/// aggregate` when a run has no results) and command.sh (the launcher call, runnable by hand).
void prepare_run_dir(const SweepSpec& spec, const RunPlan& run, int ranks, const LaunchTools& tools,
                     const std::filesystem::path& workdir);

/// Quotes a word for a POSIX shell.
std::string shell_quote(const std::string& word);

/// The batch script of a job array whose task i (1-based) runs line i of `tasks_file`, from the
/// built-in template for spec.slurm.node or spec.slurm.template_file. Throws ConfigError for an
/// unknown placeholder or impossible resources.
std::string render_batch_script(const SweepSpec& spec, int ranks, int tasks,
                                const std::filesystem::path& tasks_file,
                                const std::filesystem::path& slurm_log_dir,
                                const std::filesystem::path& workdir);

/// The built-in batch templates (cluster/sbatch-cpu.sh.in and cluster/sbatch-gpu.sh.in).
const std::string& builtin_batch_template(SlurmNode node);

/// The plan as a table: id, state, log path of failed runs.
std::string format_plan(const std::vector<RunPlan>& runs, const std::vector<RunStatus>& status);

/// Slurm job ids ("123_4") that squeue lists as pending or running; empty when there is no
/// squeue or it fails (then nothing counts as queued).
std::vector<std::string> active_slurm_jobs();

/// What `mmaux sweep` was asked to do.
struct SweepRequest {
  std::filesystem::path runs_dir;  ///< absolute
  int ranks = 1;
  bool submit = false;
  bool dry_run = false;
  std::string only_run;  ///< run just this id ("" = all)
  LaunchTools tools;
  std::filesystem::path workdir;  ///< where runs start (relative paths in options)
};

/// Runs the sweep: prints the plan; then (unless dry_run) either runs every run that is not done
/// locally, one after another, through its command.sh, or writes RUNS/.sweep/<name>-<time>/
/// {tasks.txt, job.sbatch} and submits one job array of the runs that are neither done nor
/// queued. Returns 0 when every run it started succeeded (or nothing was left to do), 75 when a
/// local run was stopped by a signal, else 1 after listing the failed runs with their logs.
int execute_sweep(const SweepSpec& spec, const SweepRequest& request);

}  // namespace mmaux::launch
