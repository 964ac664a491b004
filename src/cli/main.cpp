#include "mmaux/cli/main.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "cli/command.h"
#include "mmaux/core/error.h"
#include "mmaux/core/log.h"
#include "mmaux/core/strings.h"
#include "mmaux/dist/runtime.h"

namespace mmaux::cli {
namespace {

std::string overview(const std::vector<Command>& commands) {
  std::string out = "usage: mmaux <command> [options]\n\ncommands:\n";
  for (const auto& c : commands) out += fmt::format("  {:<11} {}\n", c.name, c.summary);
  out += "\n'mmaux <command> --help' lists a command's options with their defaults.\n";
  return out;
}

std::string command_help(const Command& c) {
  OptionSet set;
  if (c.declare) c.declare(set);
  std::string out = fmt::format("usage: {}\n\n{}\n", c.usage, c.summary);
  out += format_help(set);
  out += fmt::format("\nexample:\n  {}\n", c.example);
  return out;
}

int run_command(const Command& c, const std::vector<std::string>& args) {
  OptionSet set;
  if (c.declare) c.declare(set);
  ParseResult parsed;
  try {
    parsed = parse_options(args, set, c.positional);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "mmaux %s: error: %s\n", c.name.c_str(), e.what());
    return kExitUsageError;
  }
  if (parsed.help) {
    std::fputs(command_help(c).c_str(), stdout);
    return kExitOk;
  }
  if (parsed.print_config) {
    std::fputs(format_config(set).c_str(), stdout);
    return kExitOk;
  }
  return run_guarded([&]() {
    if (c.log != nullptr) {
      LogConfig log = logging_config();
      log.level = c.log->level;
      log.all_ranks = c.log->all_ranks;
      configure_logging(log);
    }
    if (c.distributed) {
      dist::Topology t =
          dist::init_runtime(dist::detect_launch([](const char* n) { return std::getenv(n); }));
      if (c.topology != nullptr) *c.topology = t;
    }
    int code = c.run_with_options ? c.run_with_options(set) : c.run();
    dist::finalize_runtime();
    return code;
  });
}

}  // namespace

int run_guarded(const std::function<int()>& body) {
  int code = kExitRuntimeError;
  try {
    return body();
  } catch (const AgreedError& e) {  // every rank is here: no rank waits for another
    log_error("main", "{}", e.what());
    dist::finalize_runtime();
    return e.exit_code();
  } catch (const Error& e) {
    log_error("main", "{}", e.what());
    code = e.exit_code();
  } catch (const std::exception& e) {
    log_error("main", "unexpected error: {}", e.what());
  } catch (...) {
    log_error("main", "unexpected error of unknown type");
  }
  if (const int world = dist::mpi_world_size(); world > 1) {
    log_error("main", "ending all {} ranks of the job", world);
    dist::abort_job(code);
  }
  dist::finalize_runtime();
  return code;
}

int main_entry(int argc, char** argv) {
  std::vector<Command> commands = all_commands();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(overview(commands).c_str(), stderr);
    return kExitUsageError;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(overview(commands).c_str(), stdout);
    return kExitOk;
  }
  if (args[0] == "--version") args[0] = "version";
  std::vector<std::string> names;
  for (const auto& c : commands) {
    if (c.name == args[0]) return run_command(c, {args.begin() + 1, args.end()});
    names.push_back(c.name);
  }
  std::string near = closest_match(args[0], names);
  std::fprintf(stderr, "mmaux: unknown command '%s'%s\n%s", args[0].c_str(),
               near.empty() ? "" : fmt::format("; did you mean '{}'?", near).c_str(),
               overview(commands).c_str());
  return kExitUsageError;
}

}  // namespace mmaux::cli
