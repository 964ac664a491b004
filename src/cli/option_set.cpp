#include "cli/option_set.h"

#include <boost/program_options.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "mmaux/core/strings.h"

namespace po = boost::program_options;

namespace mmaux::cli {
namespace {

bool parse_bool_text(const std::string& text, bool* out) {
  if (text == "true" || text == "yes" || text == "on" || text == "1") {
    *out = true;
    return true;
  }
  if (text == "false" || text == "no" || text == "off" || text == "0") {
    *out = false;
    return true;
  }
  return false;
}

long long parse_integer(const std::string& name, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE) {
    MMAUX_THROW(ConfigError, "option '{}': invalid value '{}'; expected an integer", name, text);
  }
  return v;
}

double parse_double(const std::string& name, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) {
    MMAUX_THROW(ConfigError, "option '{}': invalid value '{}'; expected a finite number", name,
                text);
  }
  return v;
}

std::string strip_dashes(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && s[i] == '-') ++i;
  return s.substr(i);
}

template <typename Int>
void bind_integer(OptionEntry& e, Int* field, std::function<std::string(long long)> check,
                  long long lo, long long hi) {
  const std::string name = e.name;
  e.type_text = "an integer";
  e.assign = [field, name, lo, hi](const std::string& text) {
    long long v = parse_integer(name, text);
    if (v < lo || v > hi) {
      MMAUX_THROW(ConfigError, "option '{}': value {} is out of range [{}, {}]", name, v, lo, hi);
    }
    *field = static_cast<Int>(v);
  };
  e.print = [field] { return fmt::format("{}", *field); };
  if (check) e.check = [field, check] { return check(static_cast<long long>(*field)); };
}

}  // namespace

OptionSet& OptionSet::group(const std::string& caption) {
  groups_.push_back(OptionGroup{caption, {}});
  return *this;
}

OptionEntry& OptionSet::push(const std::string& name, const std::string& help) {
  MMAUX_ASSERT(!groups_.empty(), "group() must be called before add()");
  MMAUX_ASSERT(find(name) == nullptr, "option '{}' declared twice", name);
  groups_.back().entries.push_back(OptionEntry{});
  OptionEntry& e = groups_.back().entries.back();
  e.name = name;
  e.help = help;
  return e;
}

OptionSet& OptionSet::declared() {
  OptionEntry& e = groups_.back().entries.back();
  e.default_text = e.print();
  return *this;
}

OptionSet& OptionSet::add(const std::string& name, std::string* field, const std::string& help,
                          std::function<std::string(const std::string&)> check) {
  OptionEntry& e = push(name, help);
  e.type_text = "a string";
  e.assign = [field](const std::string& text) { *field = text; };
  e.print = [field] { return *field; };
  if (check) e.check = [field, check] { return check(*field); };
  return declared();
}

OptionSet& OptionSet::add(const std::string& name, int* field, const std::string& help,
                          std::function<std::string(long long)> check) {
  bind_integer(push(name, help), field, std::move(check), INT32_MIN, INT32_MAX);
  return declared();
}

OptionSet& OptionSet::add(const std::string& name, long* field, const std::string& help,
                          std::function<std::string(long long)> check) {
  bind_integer(push(name, help), field, std::move(check), INT64_MIN, INT64_MAX);
  return declared();
}

OptionSet& OptionSet::add(const std::string& name, unsigned* field, const std::string& help,
                          std::function<std::string(long long)> check) {
  OptionEntry& e = push(name, help);
  bind_integer(e, field, std::move(check), 0, UINT32_MAX);
  e.type_text = "a non-negative integer";
  return declared();
}

OptionSet& OptionSet::add(const std::string& name, double* field, const std::string& help,
                          std::function<std::string(double)> check) {
  OptionEntry& e = push(name, help);
  e.type_text = "a number";
  e.assign = [field, name](const std::string& text) { *field = parse_double(name, text); };
  e.print = [field] { return fmt::format("{}", *field); };
  if (check) e.check = [field, check] { return check(*field); };
  return declared();
}

OptionSet& OptionSet::add(const std::string& name, bool* field, const std::string& help) {
  OptionEntry& e = push(name, help);
  e.type_text = "true or false";
  e.is_bool = true;
  e.assign = [field, name](const std::string& text) {
    if (!parse_bool_text(text, field)) {
      MMAUX_THROW(ConfigError, "option '{}': invalid value '{}'; expected true or false", name,
                  text);
    }
  };
  e.print = [field] { return *field ? std::string("true") : std::string("false"); };
  return declared();
}

OptionSet& OptionSet::add_parsed(const std::string& name, const std::string& help,
                                 const std::string& type_text,
                                 std::function<void(const std::string&)> assign,
                                 std::function<std::string()> print) {
  OptionEntry& e = push(name, help);
  e.type_text = type_text;
  e.assign = std::move(assign);
  e.print = std::move(print);
  return declared();
}

OptionSet& OptionSet::bookkeeping() {
  MMAUX_ASSERT(!groups_.empty() && !groups_.back().entries.empty(),
               "bookkeeping() must follow add()");
  MMAUX_ASSERT(!groups_.back().entries.back().stopping,
               "option '{}': a stopping criterion cannot be bookkeeping",
               groups_.back().entries.back().name);
  groups_.back().entries.back().trajectory = false;
  return *this;
}

OptionSet& OptionSet::stopping() {
  MMAUX_ASSERT(!groups_.empty() && !groups_.back().entries.empty(), "stopping() must follow add()");
  MMAUX_ASSERT(groups_.back().entries.back().trajectory,
               "option '{}': a stopping criterion cannot be bookkeeping",
               groups_.back().entries.back().name);
  groups_.back().entries.back().stopping = true;
  return *this;
}

const OptionEntry* OptionSet::find(const std::string& name) const {
  for (const auto& g : groups_)
    for (const auto& e : g.entries)
      if (e.name == name) return &e;
  return nullptr;
}

std::vector<std::string> OptionSet::names() const {
  std::vector<std::string> out;
  for (const auto& g : groups_)
    for (const auto& e : g.entries) out.push_back(e.name);
  return out;
}

std::function<std::string(double)> in_range(double lo, double hi) {
  return [lo, hi](double v) -> std::string {
    if (v < lo || v > hi) return fmt::format("value {} is out of range [{}, {}]", v, lo, hi);
    return "";
  };
}

std::function<std::string(long long)> int_range(long long lo, long long hi) {
  return [lo, hi](long long v) -> std::string {
    if (v < lo || v > hi) return fmt::format("value {} is out of range [{}, {}]", v, lo, hi);
    return "";
  };
}

std::function<std::string(const std::string&)> one_of(std::vector<std::string> allowed) {
  return [allowed](const std::string& v) -> std::string {
    for (const auto& a : allowed)
      if (a == v) return "";
    std::string msg =
        fmt::format("invalid value '{}'; expected one of {}", v, fmt::join(allowed, ", "));
    std::string near = closest_match(v, allowed);
    if (!near.empty()) msg += fmt::format(" (did you mean '{}'?)", near);
    return msg;
  };
}

std::function<std::string(const std::string&)> required(const std::string& hint) {
  return [hint](const std::string& v) -> std::string {
    return v.empty() ? fmt::format("is required; {}", hint) : std::string();
  };
}

namespace {

po::options_description make_description(const OptionSet& options, bool with_cli_only) {
  po::options_description desc;
  if (with_cli_only) {
    desc.add_options()("help,h", po::bool_switch(), "")(
        "config", po::value<std::vector<std::string>>()->composing(), "")("print-config",
                                                                          po::bool_switch(), "");
  }
  for (const auto& g : options.groups()) {
    for (const auto& e : g.entries) {
      auto* sem = po::value<std::string>();
      if (e.is_bool && with_cli_only) sem->implicit_value("true");
      desc.add_options()(e.name.c_str(), sem, "");
    }
  }
  return desc;
}

// "--flag false" would leave "false" as a stray positional argument with an implicit value:
// join a boolean option and a following boolean literal into "--flag=false".
std::vector<std::string> join_bool_values(const std::vector<std::string>& args,
                                          const OptionSet& options) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool dummy = false;
    if (a.rfind("--", 0) == 0 && a.find('=') == std::string::npos && i + 1 < args.size()) {
      const OptionEntry* e = options.find(a.substr(2));
      if (e != nullptr && e->is_bool && parse_bool_text(args[i + 1], &dummy)) {
        out.push_back(a + "=" + args[i + 1]);
        ++i;
        continue;
      }
    }
    out.push_back(a);
  }
  return out;
}

[[noreturn]] void throw_unknown(const std::string& raw_name, const OptionSet& options,
                                const std::string& where) {
  std::string name = strip_dashes(raw_name);
  std::vector<std::string> candidates = options.names();
  if (where.empty()) {
    candidates.push_back("help");
    candidates.push_back("config");
    candidates.push_back("print-config");
  }
  std::string msg = fmt::format("unknown option '{}'{}", name, where);
  std::string near = closest_match(name, candidates);
  if (!near.empty())
    msg += fmt::format("; did you mean '{}'?", near);
  else
    msg += "; see --help for the options of this command";
  throw ConfigError(msg);
}

void store_config_file(const std::string& path, const po::options_description& desc,
                       const OptionSet& options, po::variables_map& vm) {
  std::error_code ec;
  MMAUX_CHECK_CONFIG(std::filesystem::is_regular_file(path, ec),
                     "config file '{}' does not exist or is not a regular file", path);
  std::ifstream in(path);
  MMAUX_CHECK_CONFIG(in.good(), "config file '{}' cannot be read", path);
  try {
    po::store(po::parse_config_file(in, desc, false), vm);
  } catch (const po::unknown_option& e) {
    throw_unknown(e.get_option_name(), options, fmt::format(" in config file '{}'", path));
  } catch (const po::error& e) {
    MMAUX_THROW(ConfigError, "config file '{}': {}", path, e.what());
  }
}

}  // namespace

ParseResult parse_options(const std::vector<std::string>& args, const OptionSet& options,
                          const std::vector<std::string>& positional) {
  po::options_description cli_desc = make_description(options, true);
  po::options_description file_desc = make_description(options, false);
  po::positional_options_description pos;
  for (const auto& p : positional) pos.add(p.c_str(), 1);

  po::variables_map vm;
  try {
    auto style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(join_bool_values(args, options))
                  .options(cli_desc)
                  .positional(pos)
                  .style(style)
                  .run(),
              vm);
  } catch (const po::unknown_option& e) {
    throw_unknown(e.get_option_name(), options, "");
  } catch (const po::too_many_positional_options_error&) {
    MMAUX_THROW(
        ConfigError, "unexpected argument; this command takes {} positional argument(s){}",
        positional.size(),
        positional.empty() ? std::string() : fmt::format(" ({})", fmt::join(positional, ", ")));
  } catch (const po::error& e) {
    MMAUX_THROW(ConfigError, "{}", e.what());
  }

  ParseResult result;
  result.help = vm.count("help") && vm["help"].as<bool>();
  result.print_config = vm.count("print-config") && vm["print-config"].as<bool>();
  if (vm.count("config")) result.config_files = vm["config"].as<std::vector<std::string>>();
  if (result.help) return result;

  // Boost keeps the first value stored: the command line is stored first, then the files from
  // the last to the first, so later files override earlier ones and the command line wins.
  for (auto it = result.config_files.rbegin(); it != result.config_files.rend(); ++it) {
    store_config_file(*it, file_desc, options, vm);
  }

  for (const auto& g : options.groups()) {
    for (const auto& e : g.entries) {
      if (vm.count(e.name)) e.assign(vm[e.name].as<std::string>());
    }
  }
  for (const auto& g : options.groups()) {
    for (const auto& e : g.entries) {
      if (!e.check) continue;
      std::string problem = e.check();
      if (!problem.empty()) MMAUX_THROW(ConfigError, "option '{}': {}", e.name, problem);
    }
  }
  return result;
}

std::string format_config(const OptionSet& options) {
  // Sectionless options first (INI keys before any [section]), then one section per prefix.
  std::string top, body;
  std::map<std::string, std::string> sections;
  std::vector<std::string> order;
  for (const auto& g : options.groups()) {
    for (const auto& e : g.entries) {
      size_t dot = e.name.find('.');
      if (dot == std::string::npos) {
        top += fmt::format("{} = {}\n", e.name, e.print());
        continue;
      }
      std::string section = e.name.substr(0, dot);
      if (!sections.count(section)) order.push_back(section);
      sections[section] += fmt::format("{} = {}\n", e.name.substr(dot + 1), e.print());
    }
  }
  std::string out = "# effective configuration (mmaux --print-config)\n" + top;
  for (const auto& s : order) {
    if (!out.empty() && out.back() == '\n' && out.size() > 1) out += "\n";
    out += fmt::format("[{}]\n{}", s, sections[s]);
  }
  return out;
}

std::string format_help(const OptionSet& options) {
  std::string out;
  for (const auto& g : options.groups()) {
    out += fmt::format("\n{}:\n", g.caption);
    for (const auto& e : g.entries) {
      std::string def = e.print();
      out += fmt::format("  --{} <{}>  (default: {})\n      {}\n", e.name, e.type_text,
                         def.empty() ? std::string("\"\"") : def, e.help);
    }
  }
  out +=
      "\nCommon:\n  --config FILE   INI file with the same dotted names; may repeat, later wins;"
      " the command line overrides files\n  --print-config  print the effective configuration"
      " as INI and exit\n  -h, --help      this help\n";
  return out;
}

}  // namespace mmaux::cli
