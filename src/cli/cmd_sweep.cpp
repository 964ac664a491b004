#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "mmaux/core/error.h"
#include "mmaux/launch/sweep.h"

namespace mmaux::cli {
namespace {

// Every option of the sweep's command (`mmaux train` or `mmaux pretrain`), to check a sweep's
// option names before anything runs.
std::vector<std::string> option_names(const std::string& command) {
  Command c = command == "pretrain" ? make_pretrain_command() : make_train_command();
  OptionSet set;
  c.declare(set);
  return set.names();
}

launch::LaunchTools find_tools() {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  MMAUX_CHECK(!ec, "cannot find the mmaux binary through /proc/self/exe: {}", ec.message());
  launch::LaunchTools tools{self, self.parent_path() / "mmaux-launch"};
  MMAUX_CHECK(fs::exists(tools.launcher),
              "the launcher '{}' is missing; it is installed next to mmaux (rebuild, or run "
              "'cmake --install')",
              tools.launcher.string());
  return tools;
}

}  // namespace

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
  c.example = "mmaux sweep --spec configs/sweeps/tiny.ini --dry-run";
  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_sweep_options(set, s->sweep);
    declare_log_options(set, s->log);
  };
  c.run = [s] {
    namespace fs = std::filesystem;
    const SweepOptions& o = s->sweep;
    launch::SweepSpec spec = launch::read_sweep_spec(o.spec);
    launch::check_option_names(spec, option_names(spec.command));
    launch::SweepRequest req;
    std::string runs = !o.runs.empty() ? o.runs : !spec.runs.empty() ? spec.runs : "runs";
    req.runs_dir = fs::absolute(runs).lexically_normal();
    req.ranks = o.ranks > 0 ? o.ranks : spec.ranks;
    req.submit = o.submit;
    req.dry_run = o.dry_run;
    req.only_run = o.run;
    req.tools = find_tools();
    req.workdir = fs::current_path();
    return launch::execute_sweep(spec, req);
  };
  return c;
}

}  // namespace mmaux::cli
