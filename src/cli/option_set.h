#pragma once
// Private to the CLI: a registry of typed options declared once, parsed from the command line and
// INI files with Boost.Program_options, validated, printed as help and as a reproducible INI file.
//
// Every option is stored by Boost as a string and converted here, so that type and range errors
// name the option, the value and what was expected, and so that the effective configuration can be
// printed back exactly.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "mmaux/config/enum_names.h"
#include "mmaux/core/error.h"

namespace mmaux::cli {

/// One declared option bound to a field of an option struct.
struct OptionEntry {
  std::string name;  ///< dotted, kebab-case: "train.lr"
  std::string help;
  std::string type_text;  ///< "a number", "an integer", ...
  bool is_bool = false;
  std::function<void(const std::string&)> assign;  ///< parses text into the field (ConfigError)
  std::function<std::string()> print;              ///< current value as INI text
  std::string default_text;            ///< print() when the option was declared: its default
  std::function<std::string()> check;  ///< "" or what is wrong with the value
  /// Whether the value can change what a run computes (see mmaux::OptionValue); false for
  /// bookkeeping options, marked with OptionSet::bookkeeping() where they are declared.
  bool trajectory = true;
  /// A stopping criterion (see mmaux::OptionValue), marked with OptionSet::stopping().
  bool stopping = false;
};

/// A titled group of options (one option struct).
struct OptionGroup {
  std::string caption;
  std::vector<OptionEntry> entries;
};

class OptionSet {
 public:
  /// Starts a new group; later add() calls go into it.
  OptionSet& group(const std::string& caption);

  OptionSet& add(const std::string& name, std::string* field, const std::string& help,
                 std::function<std::string(const std::string&)> check = {});
  OptionSet& add(const std::string& name, int* field, const std::string& help,
                 std::function<std::string(long long)> check = {});
  OptionSet& add(const std::string& name, long* field, const std::string& help,
                 std::function<std::string(long long)> check = {});
  OptionSet& add(const std::string& name, unsigned* field, const std::string& help,
                 std::function<std::string(long long)> check = {});
  OptionSet& add(const std::string& name, double* field, const std::string& help,
                 std::function<std::string(double)> check = {});
  OptionSet& add(const std::string& name, bool* field, const std::string& help);

  /// An enum option: its values are the names of EnumNames<E>; a typo is a ConfigError naming
  /// the option and the allowed names.
  template <typename E, typename = std::enable_if_t<std::is_enum_v<E>>>
  OptionSet& add(const std::string& name, E* field, const std::string& help) {
    return add_parsed(
        name, help, fmt::format("{}", fmt::join(enum_names<E>(), "|")),
        [field, name](const std::string& text) { *field = parse_option<E>(name, text); },
        [field] { return std::string(name_of(*field)); });
  }
  /// An enum option without a default: it must be given.
  template <typename E, typename = std::enable_if_t<std::is_enum_v<E>>>
  OptionSet& add(const std::string& name, std::optional<E>* field, const std::string& help) {
    add_parsed(
        name, help, fmt::format("{}", fmt::join(enum_names<E>(), "|")),
        [field, name](const std::string& text) { *field = parse_option<E>(name, text); },
        [field] { return *field ? std::string(name_of(**field)) : std::string(); });
    groups_.back().entries.back().check = [field] {
      return *field
                 ? std::string()
                 : fmt::format("is required; expected one of {}", fmt::join(enum_names<E>(), ", "));
    };
    return *this;
  }
  /// An option of any other type: `assign` parses the text into the field (throwing
  /// ConfigError), `print` writes it back as INI text.
  OptionSet& add_parsed(const std::string& name, const std::string& help,
                        const std::string& type_text,
                        std::function<void(const std::string&)> assign,
                        std::function<std::string()> print);

  /// Marks the option added last as bookkeeping: its value never changes what a run computes
  /// (OptionEntry::trajectory = false), so a run may resume with another value and aggregation
  /// does not group by it.
  OptionSet& bookkeeping();

  /// Marks the option added last as a stopping criterion (OptionEntry::stopping): it changes the
  /// result, but only by where the run ends, so a resumed run may change it (an extension).
  OptionSet& stopping();

  const std::vector<OptionGroup>& groups() const { return groups_; }
  const OptionEntry* find(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  OptionEntry& push(const std::string& name, const std::string& help);
  OptionSet& declared();  // records the entry just declared: its default_text
  std::vector<OptionGroup> groups_;
};

// Checks returning "" when the value is fine, else what is wrong (without the option name).
std::function<std::string(double)> in_range(double lo, double hi);
std::function<std::string(long long)> int_range(long long lo, long long hi);
std::function<std::string(const std::string&)> one_of(std::vector<std::string> allowed);
std::function<std::string(const std::string&)> required(const std::string& hint);

/// The result of parsing one command's arguments.
struct ParseResult {
  bool help = false;
  bool print_config = false;
  std::vector<std::string> config_files;
};

/// Parses `args` (after the command name) and the INI files named by --config into the fields
/// bound in `options`: command line first (it wins), then config files from last to first (later
/// files win over earlier ones), then every check. `positional` names the options that take bare
/// arguments, in order. Throws ConfigError on any problem.
ParseResult parse_options(const std::vector<std::string>& args, const OptionSet& options,
                          const std::vector<std::string>& positional);

/// The effective configuration as an INI file that reproduces the run.
std::string format_config(const OptionSet& options);

/// The option list for --help, with defaults.
std::string format_help(const OptionSet& options);

}  // namespace mmaux::cli
