#include "mmaux/launch/sweep.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "mmaux/core/error.h"
#include "mmaux/core/hash.h"
#include "mmaux/core/strings.h"

namespace mmaux::launch {
namespace fs = std::filesystem;
namespace {

const std::vector<std::string> kSections = {"sweep", "axes", "options", "slurm"};
const std::vector<std::string> kSweepKeys = {"name",    "runs",        "ranks",  "config",
                                             "trainer", "loss-weight", "command"};
const std::vector<std::string> kCommands = {"train", "pretrain"};
const std::vector<std::string> kSlurmKeys = {
    "node", "template",      "partition",     "account",       "qos",          "time",
    "mem",  "signal-before", "cpus-per-rank", "gpus-per-node", "max-parallel", "extra"};
const std::vector<std::string> kLossSettings = {"ce", "itc", "itm", "itc+itm"};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string word;
  for (char c : text + " ") {
    if (c == ' ' || c == '\t' || c == ',') {
      if (!word.empty()) out.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  return out;
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Strips a trailing comment: '#' or ';' at the start or after whitespace.
std::string strip_comment(const std::string& line) {
  for (size_t i = 0; i < line.size(); ++i) {
    if ((line[i] == '#' || line[i] == ';') && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t'))
      return line.substr(0, i);
  }
  return line;
}

int to_int(const std::string& origin, int line, const std::string& key, const std::string& value,
           int lo, int hi) {
  size_t used = 0;
  long v = 0;
  try {
    v = std::stol(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  MMAUX_CHECK_CONFIG(used == value.size() && v >= lo && v <= hi,
                     "{}:{}: {} = '{}' is not an integer in [{}, {}]", origin, line, key, value, lo,
                     hi);
  return static_cast<int>(v);
}

void check_key(const std::string& origin, int line, const std::string& section,
               const std::string& key, const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) return;
  std::string near = closest_match(key, allowed);
  MMAUX_THROW(ConfigError, "{}:{}: unknown key '{}' in [{}]{}; valid keys: {}", origin, line, key,
              section, near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near),
              fmt::join(allowed, ", "));
}

void set_sweep_key(SweepSpec& s, const std::string& origin, int line, const std::string& key,
                   const std::string& value) {
  check_key(origin, line, "sweep", key, kSweepKeys);
  if (key == "name") {
    s.name = value;
  } else if (key == "runs") {
    s.runs = value;
  } else if (key == "ranks") {
    s.ranks = to_int(origin, line, key, value, 1, 65536);
  } else if (key == "config") {
    s.configs = split_words(value);
  } else if (key == "trainer") {
    s.trainer = split_words(value);
  } else if (key == "command") {
    MMAUX_CHECK_CONFIG(std::find(kCommands.begin(), kCommands.end(), value) != kCommands.end(),
                       "{}:{}: command = '{}'; expected train (fine-tuning) or pretrain", origin,
                       line, value);
    s.command = value;
  } else if (key == "loss-weight") {
    try {
      s.loss_weight = std::stod(value);
    } catch (const std::exception&) {
      s.loss_weight = -1;
    }
    MMAUX_CHECK_CONFIG(s.loss_weight > 0 && s.loss_weight < 1,
                       "{}:{}: loss-weight = '{}' must be a number in (0, 1), e.g. 0.1", origin,
                       line, value);
  }
}

void set_slurm_key(SlurmSettings& s, const std::string& origin, int line, const std::string& key,
                   const std::string& value) {
  check_key(origin, line, "slurm", key, kSlurmKeys);
  if (key == "node") {
    const std::optional<SlurmNode> node = enum_from_name<SlurmNode>(value);
    MMAUX_CHECK_CONFIG(node.has_value(), "{}:{}: node = '{}'; expected cpu or gpu", origin, line,
                       value);
    s.node = *node;
  } else if (key == "template") {
    s.template_file = value;
  } else if (key == "partition") {
    s.partition = value;
  } else if (key == "account") {
    s.account = value;
  } else if (key == "qos") {
    s.qos = value;
  } else if (key == "time") {
    s.time = value;
  } else if (key == "mem") {
    s.mem = value;
  } else if (key == "signal-before") {
    s.signal_before_s = to_int(origin, line, key, value, 1, 65535);
  } else if (key == "cpus-per-rank") {
    s.cpus_per_rank = to_int(origin, line, key, value, 1, 4096);
  } else if (key == "gpus-per-node") {
    s.gpus_per_node = to_int(origin, line, key, value, 1, 64);
  } else if (key == "max-parallel") {
    s.max_parallel = to_int(origin, line, key, value, 0, 1 << 20);
  } else if (key == "extra") {
    s.extra = split_words(value);
  }
}

std::string sanitize(const std::string& text) {
  std::string out;
  for (char c : text) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '+';
    out += ok ? c : '-';
  }
  while (!out.empty() && (out.front() == '-' || out.front() == '.')) out.erase(out.begin());
  return out.empty() ? "x" : out;
}

// The readable part an axis value contributes to a run id.
std::string id_part(const std::string& axis, const std::string& value) {
  if (axis == "train.seed") return "s" + sanitize(value);
  if (axis == "data.dir") {
    fs::path p(value);
    std::string base = p.filename().string();
    if (base.empty()) base = p.parent_path().filename().string();
    return sanitize(base);
  }
  if (axis == "loss" || axis == "model.name" || axis == "model.preset") return sanitize(value);
  std::string key = axis.substr(axis.find('.') == std::string::npos ? 0 : axis.find('.') + 1);
  return sanitize(key + value);
}

// The options of an axis: "model.name" or, for a linked axis, "model.name+data.dir".
std::vector<std::string> axis_options(const std::string& axis) { return split(axis, '+'); }

// One value of an axis, split into the values of its options ("vilt:data/mvsa-vilt").
std::vector<std::string> axis_values(const std::string& axis, const std::string& value) {
  if (axis.find('+') == std::string::npos) return {value};
  return split(value, ':');
}

std::string fmt_weight(double w) { return fmt::format("{}", w); }

}  // namespace

std::string loss_setting_name(double itc, double itm) {
  if (itc > 0 && itm > 0) return "itc+itm";
  if (itc > 0) return "itc";
  if (itm > 0) return "itm";
  return "ce";
}

SweepSpec parse_sweep_spec(const std::string& text, const std::string& origin) {
  SweepSpec s;
  s.name = fs::path(origin).stem().string();
  std::string section;
  std::set<std::string> seen;
  std::istringstream in(text);
  std::string raw;
  for (int line = 1; std::getline(in, raw); ++line) {
    std::string l = trim(strip_comment(raw));
    if (l.empty()) continue;
    if (l.front() == '[') {
      MMAUX_CHECK_CONFIG(l.back() == ']', "{}:{}: section header '{}' lacks ']'", origin, line, l);
      section = trim(l.substr(1, l.size() - 2));
      check_key(origin, line, "", section, kSections);
      continue;
    }
    size_t eq = l.find('=');
    MMAUX_CHECK_CONFIG(eq != std::string::npos, "{}:{}: expected 'key = value', got '{}'", origin,
                       line, l);
    MMAUX_CHECK_CONFIG(!section.empty(),
                       "{}:{}: '{}' comes before any [section]; put it under "
                       "[sweep], [axes], [options] or [slurm]",
                       origin, line, l);
    std::string key = trim(l.substr(0, eq));
    std::string value = trim(l.substr(eq + 1));
    MMAUX_CHECK_CONFIG(seen.insert(section + "." + key).second, "{}:{}: '{}' is set twice in [{}]",
                       origin, line, key, section);
    if (section == "sweep") {
      set_sweep_key(s, origin, line, key, value);
    } else if (section == "slurm") {
      set_slurm_key(s.slurm, origin, line, key, value);
    } else if (section == "axes") {
      std::vector<std::string> values = split_list(value);
      MMAUX_CHECK_CONFIG(!values.empty(), "{}:{}: axis '{}' lists no values", origin, line, key);
      std::vector<std::string> names = axis_options(key);
      for (const auto& n : names)
        MMAUX_CHECK_CONFIG(!n.empty(), "{}:{}: axis '{}' has an empty option name", origin, line,
                           key);
      for (const auto& v : values) {
        std::vector<std::string> parts = axis_values(key, v);
        MMAUX_CHECK_CONFIG(parts.size() == names.size(),
                           "{}:{}: value '{}' of the linked axis '{}' has {} part(s); give {} "
                           "separated by ':'",
                           origin, line, v, key, parts.size(), names.size());
        for (size_t i = 0; i < names.size(); ++i)
          MMAUX_CHECK_CONFIG(names[i] != "loss" ||
                                 std::find(kLossSettings.begin(), kLossSettings.end(), parts[i]) !=
                                     kLossSettings.end(),
                             "{}:{}: loss setting '{}' is not one of ce, itc, itm, itc+itm", origin,
                             line, parts[i]);
      }
      s.axes.emplace_back(key, values);
    } else {
      s.options[key] = value;
    }
  }
  // Every option is set by one place only: one axis, or the shared options.
  std::set<std::string> on_axes;
  for (const auto& [axis, values] : s.axes)
    for (const auto& name : axis_options(axis)) {
      MMAUX_CHECK_CONFIG(on_axes.insert(name).second, "{}: '{}' is on two axes; keep one", origin,
                         name);
      MMAUX_CHECK_CONFIG(s.options.count(name) == 0,
                         "{}: '{}' is both an axis and a shared option; keep one", origin, name);
    }
  if (on_axes.count("loss"))
    for (const char* k : {"loss.itc", "loss.itm"})
      MMAUX_CHECK_CONFIG(s.options.count(k) == 0 && on_axes.count(k) == 0,
                         "{}: the 'loss' axis sets {}; remove it from the sweep", origin, k);
  for (const char* k : {"train.out", "train.resume"})
    MMAUX_CHECK_CONFIG(s.options.count(k) == 0 && on_axes.count(k) == 0,
                       "{}: {} is set by the sweep for every run; remove it", origin, k);
  MMAUX_CHECK_CONFIG(s.command != "pretrain" || on_axes.count("loss") == 0,
                     "{}: the 'loss' axis sets fine-tuning's loss.itc and loss.itm; a pretrain "
                     "sweep weights its terms with pretrain.itc, pretrain.itm and pretrain.mlm "
                     "(put those on axes)",
                     origin);
  return s;
}

SweepSpec read_sweep_spec(const fs::path& file) {
  std::ifstream in(file);
  MMAUX_CHECK_CONFIG(in.good(), "cannot read sweep file '{}'; give an existing INI file to --spec",
                     file.string());
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_sweep_spec(buf.str(), file.string());
}

void check_option_names(const SweepSpec& spec, const std::vector<std::string>& known) {
  auto check = [&](const std::string& name) {
    if (name == "loss") return;
    if (std::find(known.begin(), known.end(), name) != known.end()) return;
    std::string near = closest_match(name, known);
    MMAUX_THROW(ConfigError,
                "sweep '{}': '{}' is not an option of mmaux {}{}; see 'mmaux {} "
                "--print-config'",
                spec.name, name, spec.command,
                near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near), spec.command);
  };
  for (const auto& [axis, values] : spec.axes)
    for (const auto& name : axis_options(axis)) check(name);
  for (const auto& [key, value] : spec.options) check(key);
}

std::vector<RunPlan> expand_sweep(const SweepSpec& spec, const fs::path& runs_dir) {
  std::vector<RunPlan> runs;
  std::vector<size_t> index(spec.axes.size(), 0);
  std::set<std::string> ids;
  while (true) {
    RunPlan run;
    run.options = spec.options;
    run.configs = spec.configs;
    std::vector<std::string> parts;
    std::string loss = "";
    for (size_t a = 0; a < spec.axes.size(); ++a) {
      const auto& [axis, values] = spec.axes[a];
      std::vector<std::string> names = axis_options(axis);
      std::vector<std::string> v = axis_values(axis, values[index[a]]);
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == "loss") {
          loss = v[i];
        } else {
          run.options[names[i]] = v[i];
        }
      }
      if (values.size() > 1) parts.push_back(id_part(names[0], v[0]));
    }
    if (!loss.empty()) {
      bool itc = loss == "itc" || loss == "itc+itm";
      bool itm = loss == "itm" || loss == "itc+itm";
      run.options["loss.itc"] = itc ? fmt_weight(spec.loss_weight) : "0";
      run.options["loss.itm"] = itm ? fmt_weight(spec.loss_weight) : "0";
    }
    if (run.options.count("train.seed") == 0) run.options["train.seed"] = "1";
    run.seed = run.options["train.seed"];
    double itc = run.options.count("loss.itc") ? std::atof(run.options["loss.itc"].c_str()) : 0;
    double itm = run.options.count("loss.itm") ? std::atof(run.options["loss.itm"].c_str()) : 0;
    run.loss_setting = spec.command == "pretrain" ? "pretrain" : loss_setting_name(itc, itm);
    // A pretrain sweep's ids differ from a train sweep's with the same options (they may share
    // a runs directory); train's ids stay what they were.
    std::string canonical = spec.command == "train" ? "" : "command=" + spec.command + "\n";
    for (const auto& c : run.configs) canonical += "--config=" + c + "\n";
    for (const auto& [k, v] : run.options) canonical += k + "=" + v + "\n";
    uint64_t h = fnv1a64(canonical);
    std::string hash = fmt::format("{:08x}", static_cast<uint32_t>(h ^ (h >> 32)));
    parts.push_back(hash);
    run.id = fmt::format("{}", fmt::join(parts, "-"));
    if (parts.size() == 1) run.id = "run-" + hash;
    MMAUX_CHECK_CONFIG(ids.insert(run.id).second,
                       "sweep '{}': two runs have the same options (id {}); an axis lists a "
                       "value twice",
                       spec.name, run.id);
    run.dir = runs_dir / run.id;
    runs.push_back(std::move(run));
    // Odometer step, last axis fastest.
    size_t a = spec.axes.size();
    while (a > 0) {
      --a;
      if (++index[a] < spec.axes[a].second.size()) break;
      index[a] = 0;
      if (a == 0) return runs;
    }
    if (spec.axes.empty()) return runs;
  }
}

const char* run_state_name(RunState state) {
  switch (state) {
    case RunState::kPending:
      return "pending";
    case RunState::kDone:
      return "done";
    case RunState::kInterrupted:
      return "interrupted";
    case RunState::kFailed:
      return "failed";
    case RunState::kQueued:
      return "queued";
  }
  return "?";
}

RunStatus run_status(const RunPlan& run, const std::vector<std::string>& active_jobs) {
  RunStatus st;
  st.log = run.dir / "train.log";
  if (fs::exists(run.dir / "results.json")) {
    st.state = RunState::kDone;
    return st;
  }
  std::ifstream job(run.dir / "slurm_job");
  std::string job_id;
  if (job >> job_id &&
      std::find(active_jobs.begin(), active_jobs.end(), job_id) != active_jobs.end()) {
    st.state = RunState::kQueued;
    return st;
  }
  std::ifstream code(run.dir / "exit_code");
  if (code >> st.exit_code) {
    st.state = st.exit_code == 75 ? RunState::kInterrupted : RunState::kFailed;
    return st;
  }
  st.state = fs::exists(st.log) ? RunState::kFailed : RunState::kPending;
  return st;
}

std::vector<std::string> trainer_command(const SweepSpec& spec, const RunPlan& run,
                                         const LaunchTools& tools) {
  std::vector<std::string> cmd = spec.trainer;
  if (cmd.empty()) cmd = {tools.mmaux.string(), spec.command};
  for (const auto& c : run.configs) {
    cmd.push_back("--config");
    cmd.push_back(fs::absolute(c).lexically_normal().string());
  }
  cmd.insert(cmd.end(), {"--train.out", run.dir.string(), "--train.resume", "auto"});
  for (const auto& [k, v] : run.options) {
    cmd.push_back("--" + k);
    cmd.push_back(v);
  }
  return cmd;
}

std::string shell_quote(const std::string& word) {
  bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string("@%+=:,./_-").find(c) != std::string::npos;
  });
  if (plain) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void prepare_run_dir(const SweepSpec& spec, const RunPlan& run, int ranks, const LaunchTools& tools,
                     const fs::path& workdir) {
  std::error_code ec;
  fs::create_directories(run.dir, ec);
  MMAUX_CHECK(!ec, "cannot create run directory '{}': {}", run.dir.string(), ec.message());
  nlohmann::json plan = {{"sweep", spec.name},
                         {"run_id", run.id},
                         {"command", spec.command},
                         {"seed", run.seed},
                         {"loss_setting", run.loss_setting},
                         {"configs", run.configs},
                         {"options", run.options},
                         {"ranks", ranks}};
  std::ofstream(run.dir / "run.json") << plan.dump(2) << "\n";
  std::vector<std::string> launch = {tools.launcher.string(),
                                     "-n",
                                     std::to_string(ranks),
                                     "--log",
                                     (run.dir / "train.log").string(),
                                     "--status",
                                     (run.dir / "exit_code").string(),
                                     "--"};
  for (const auto& w : trainer_command(spec, run, tools)) launch.push_back(w);
  std::string script = fmt::format(
      "#!/usr/bin/env bash\n# Run {} of sweep '{}', written by mmaux sweep. Runs under mpirun, or "
      "under srun inside a Slurm allocation;\n# continues from the newest checkpoint when there "
      "is one.\ncd {}\nexec",
      run.id, spec.name, shell_quote(workdir.string()));
  for (const auto& w : launch) script += " " + shell_quote(w);
  script += "\n";
  fs::path file = run.dir / "command.sh";
  std::ofstream(file) << script;
  fs::permissions(file, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
}

std::string format_plan(const std::vector<RunPlan>& runs, const std::vector<RunStatus>& status) {
  MMAUX_ASSERT(runs.size() == status.size());
  std::string out;
  size_t width = 6;
  for (const auto& r : runs) width = std::max(width, r.id.size());
  out += fmt::format("{:<{}}  {:<11}  {}\n", "run", width, "state", "directory / log");
  std::map<std::string, int> counts;
  for (size_t i = 0; i < runs.size(); ++i) {
    const char* name = run_state_name(status[i].state);
    ++counts[name];
    std::string where = runs[i].dir.string();
    if (status[i].state == RunState::kFailed || status[i].state == RunState::kInterrupted) {
      where =
          status[i].exit_code >= 0
              ? fmt::format("{} (exit {})", status[i].log.string(), status[i].exit_code)
              : fmt::format("{} (no exit code: killed or still running)", status[i].log.string());
    }
    out += fmt::format("{:<{}}  {:<11}  {}\n", runs[i].id, width, name, where);
  }
  std::vector<std::string> summary;
  for (const auto& [k, n] : counts) summary.push_back(fmt::format("{} {}", n, k));
  out += fmt::format("{} runs: {}\n", runs.size(), fmt::join(summary, ", "));
  return out;
}

}  // namespace mmaux::launch
