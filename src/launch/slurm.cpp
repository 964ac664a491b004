// Batch scripts and submission of sweeps as Slurm job arrays; local execution.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "launch/batch_templates.h"
#include "launch/process.h"
#include "mmaux/core/error.h"
#include "mmaux/core/log.h"
#include "mmaux/core/strings.h"
#include "mmaux/launch/sweep.h"
#include "mmaux/train/run_lock.h"

namespace mmaux::launch {
namespace fs = std::filesystem;
namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size())
    text.replace(pos, from.size(), to);
  return text;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  MMAUX_CHECK_CONFIG(in.good(), "cannot read batch template '{}' ([slurm] template)",
                     file.string());
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace

const std::string& builtin_batch_template(SlurmNode node) {
  static const std::string cpu = detail::batch_template_cpu();
  static const std::string gpu = detail::batch_template_gpu();
  return node == SlurmNode::kGpu ? gpu : cpu;
}

std::string render_batch_script(const SweepSpec& spec, int ranks, int tasks,
                                const fs::path& tasks_file, const fs::path& slurm_log_dir,
                                const fs::path& workdir) {
  MMAUX_CHECK_CONFIG(tasks >= 1, "a job array needs at least one task, got {}", tasks);
  const SlurmSettings& s = spec.slurm;
  std::string text =
      s.template_file.empty() ? builtin_batch_template(s.node) : read_text(s.template_file);
  int per_node = std::min(ranks, s.gpus_per_node);
  MMAUX_CHECK_CONFIG(s.node != SlurmNode::kGpu || ranks % per_node == 0,
                     "{} ranks do not fill nodes of {} GPUs evenly; use a multiple of "
                     "[slurm] gpus-per-node = {} or fewer ranks",
                     ranks, s.gpus_per_node, s.gpus_per_node);
  std::string extra;
  auto line = [&](const std::string& option, const std::string& value) {
    if (!value.empty()) extra += fmt::format("#SBATCH --{}={}\n", option, value);
  };
  line("partition", s.partition);
  line("account", s.account);
  line("qos", s.qos);
  line("mem", s.mem);
  for (const auto& e : s.extra) extra += "#SBATCH " + e + "\n";
  if (!extra.empty() && extra.back() == '\n') extra.pop_back();
  std::string array = fmt::format("1-{}", tasks);
  if (s.max_parallel > 0) array += fmt::format("%{}", s.max_parallel);
  const std::vector<std::pair<std::string, std::string>> values = {
      {"BODY", detail::batch_template_body()},
      {"JOB_NAME", spec.name},
      {"ARRAY", array},
      {"RANKS", std::to_string(ranks)},
      {"RANKS_PER_NODE", std::to_string(per_node)},
      {"NODES", std::to_string(s.node == SlurmNode::kGpu ? ranks / per_node : 1)},
      {"CPUS_PER_RANK", std::to_string(s.cpus_per_rank)},
      {"TIME", s.time},
      {"SIGNAL_BEFORE", std::to_string(s.signal_before_s)},
      {"LOG_DIR", slurm_log_dir.string()},
      {"SBATCH_EXTRA", extra},
      {"TASKS_FILE", shell_quote(tasks_file.string())},
      {"WORKDIR", shell_quote(workdir.string())},
  };
  for (const auto& [key, value] : values) text = replace_all(text, "{{" + key + "}}", value);
  size_t left = text.find("{{");
  MMAUX_CHECK_CONFIG(left == std::string::npos,
                     "batch template has an unknown placeholder '{}'; known: BODY, JOB_NAME, "
                     "ARRAY, RANKS, RANKS_PER_NODE, NODES, CPUS_PER_RANK, TIME, SIGNAL_BEFORE, "
                     "LOG_DIR, SBATCH_EXTRA, TASKS_FILE, WORKDIR",
                     text.substr(left, text.find("}}", left) - left + 2));
  return text;
}

std::vector<std::string> active_slurm_jobs() {
  // -r lists each array task as JOBID_TASK; pending, running, requeued and suspended jobs.
  detail::ProcessResult r = detail::run_process({"squeue", "-h", "-r", "-o", "%i"}, true, true);
  if (r.exit_code == 127) return {};  // no Slurm here
  if (r.exit_code != 0) {
    log_warn("sweep",
             "squeue failed (exit {}; is this a Slurm login node?); no run counts as "
             "queued",
             r.exit_code);
    return {};
  }
  std::vector<std::string> ids;
  for (const auto& l : split(r.output, '\n'))
    if (!trim(l).empty()) ids.push_back(trim(l));
  return ids;
}

namespace {

int submit(const SweepSpec& spec, const SweepRequest& req,
           const std::vector<const RunPlan*>& todo) {
  fs::path dir =
      req.runs_dir / ".sweep" / fmt::format("{}-{}", spec.name, utc_now("%Y%m%d-%H%M%S"));
  std::string script = render_batch_script(spec, req.ranks, static_cast<int>(todo.size()),
                                           dir / "tasks.txt", dir, req.workdir);
  if (req.dry_run) {
    fmt::print("batch script {} (nothing written or submitted: --dry-run):\n{}",
               (dir / "job.sbatch").string(), script);
    return 0;
  }
  fs::create_directories(dir);
  std::string tasks;
  for (const RunPlan* r : todo) tasks += r->dir.string() + "\n";
  std::ofstream(dir / "tasks.txt") << tasks;
  std::ofstream(dir / "job.sbatch") << script;
  detail::ProcessResult r =
      detail::run_process({"sbatch", "--parsable", (dir / "job.sbatch").string()}, true);
  MMAUX_CHECK(r.exit_code != 127,
              "sbatch is not in PATH; submit from a Slurm login node, or run the sweep "
              "locally without --submit");
  std::string job = trim(split(r.output, ';')[0]);
  MMAUX_CHECK(r.exit_code == 0 && !job.empty(),
              "sbatch {} failed with exit code {} (output '{}'); the batch script is kept there",
              (dir / "job.sbatch").string(), r.exit_code, trim(r.output));
  std::ofstream(dir / "job_id") << job << "\n";
  for (size_t i = 0; i < todo.size(); ++i)
    std::ofstream(todo[i]->dir / "slurm_job") << fmt::format("{}_{}\n", job, i + 1);
  fmt::print("submitted job array {} with {} task(s); batch script {}; Slurm logs {}/{}_*.out\n",
             job, todo.size(), (dir / "job.sbatch").string(), dir.string(), job);
  return 0;
}

int run_local(const std::vector<const RunPlan*>& todo) {
  std::vector<std::string> failed;
  for (size_t i = 0; i < todo.size(); ++i) {
    const RunPlan& r = *todo[i];
    fmt::print("[{}/{}] {}\n", i + 1, todo.size(), r.id);
    std::fflush(stdout);
    detail::ProcessResult p;
    p.exit_code = detail::run_forwarding_signals({"bash", (r.dir / "command.sh").string()});
    if (p.exit_code == kExitRequeue) {
      fmt::print("{} stopped on a signal after a checkpoint; run the sweep again to continue\n",
                 r.id);
      return kExitRequeue;
    }
    // Success means results.json: a launch that failed before the ranks started can end with 0.
    if (p.exit_code == 0 && !fs::exists(r.dir / "results.json")) {
      p.exit_code = kExitRuntimeError;
      std::ofstream(r.dir / "exit_code") << p.exit_code << "\n";
      fmt::print("{} ended with exit code 0 but wrote no results.json\n", r.id);
    }
    if (p.exit_code != 0)
      failed.push_back(
          fmt::format("{}: exit {}, log {}", r.id, p.exit_code, (r.dir / "train.log").string()));
  }
  if (failed.empty()) return 0;
  fmt::print("{} of {} run(s) failed:\n  {}\n", failed.size(), todo.size(),
             fmt::join(failed, "\n  "));
  return kExitRuntimeError;
}

// Runs that another process writes into (a trainer started by hand, another sweep, a Slurm task
// that squeue does not list) hold their directory's lock: launching them would fail, after the
// launcher had already touched their log and status files.
void check_not_in_use(const std::vector<const RunPlan*>& todo, bool dry_run) {
  std::vector<std::string> held;
  for (const RunPlan* r : todo) {
    if (auto holder = train::run_directory_holder(r->dir.string()))
      held.push_back(
          fmt::format("{}: {}", r->id, train::run_directory_in_use(r->dir.string(), *holder)));
  }
  if (held.empty()) return;
  if (dry_run) {
    fmt::print("note: launching these would fail now:\n  {}\n", fmt::join(held, "\n  "));
    return;
  }
  MMAUX_THROW(Error, "{} run(s) of the sweep are in use; nothing was started or submitted:\n  {}",
              held.size(), fmt::join(held, "\n  "));
}

}  // namespace

int execute_sweep(const SweepSpec& spec, const SweepRequest& req) {
  std::vector<RunPlan> runs = expand_sweep(spec, req.runs_dir);
  if (!req.only_run.empty()) {
    auto it = std::find_if(runs.begin(), runs.end(),
                           [&](const RunPlan& r) { return r.id == req.only_run; });
    MMAUX_CHECK_CONFIG(it != runs.end(),
                       "sweep '{}' has no run '{}'; see 'mmaux sweep --spec "
                       "FILE --dry-run' for the run ids",
                       spec.name, req.only_run);
    runs = {*it};
  }
  // Runs once submitted (slurm_job file) may still be queued or running: ask squeue, so that they
  // are neither submitted again nor run here as well.
  bool submitted = std::any_of(runs.begin(), runs.end(),
                               [](const RunPlan& r) { return fs::exists(r.dir / "slurm_job"); });
  std::vector<std::string> active = submitted ? active_slurm_jobs() : std::vector<std::string>{};
  std::vector<RunStatus> status;
  std::vector<const RunPlan*> todo;
  for (const auto& r : runs) {
    status.push_back(run_status(r, active));
    RunState st = status.back().state;
    if (st != RunState::kDone && st != RunState::kQueued) todo.push_back(&r);
  }
  fmt::print("sweep '{}': {} run(s) of {} rank(s) under {}\n{}", spec.name, runs.size(), req.ranks,
             req.runs_dir.string(), format_plan(runs, status));
  if (todo.empty()) {
    fmt::print("nothing to {}: every run is done or queued\n", req.submit ? "submit" : "run");
    return 0;
  }
  check_not_in_use(todo, req.dry_run);
  if (req.dry_run && !req.submit) return 0;
  if (!req.dry_run)
    for (const RunPlan* r : todo) prepare_run_dir(spec, *r, req.ranks, req.tools, req.workdir);
  if (req.submit) return submit(spec, req, todo);
  return run_local(todo);
}

}  // namespace mmaux::launch
