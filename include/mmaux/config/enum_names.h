#pragma once
/// One name table per option enum: the words the command line and INI files use for its values.
/// Values are parsed once, at start-up (src/cli); below the CLI only the enums are compared.
///
/// An enum declares its table next to it:
///
///   enum class ItmMode { kRandom, kHard };
///   template <>
///   struct EnumNames<ItmMode> {
///     static constexpr EnumName<ItmMode> table[] = {{ItmMode::kRandom, "random"},
///                                                   {ItmMode::kHard, "hard"}};
///   };

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mmaux/core/error.h"
#include "mmaux/core/strings.h"

namespace mmaux {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

/// Specialised for every option enum with `static constexpr EnumName<E> table[]`.
template <typename E>
struct EnumNames;

/// The name of `value` in its table ("?" for a value missing from the table: a bug).
template <typename E>
const char* name_of(E value) {
  for (const auto& e : EnumNames<E>::table)
    if (e.value == value) return e.name;
  return "?";
}

/// The value named `text`, or nullopt.
template <typename E>
std::optional<E> enum_from_name(std::string_view text) {
  for (const auto& e : EnumNames<E>::table)
    if (text == e.name) return e.value;
  return std::nullopt;
}

/// Every name of the table, in table order.
template <typename E>
std::vector<std::string> enum_names() {
  std::vector<std::string> out;
  for (const auto& e : EnumNames<E>::table) out.emplace_back(e.name);
  return out;
}

namespace detail {
/// Throws ConfigError "option 'NAME': invalid value 'TEXT'; expected one of A, B (did you mean
/// 'B'?)".
[[noreturn]] inline void throw_bad_option_value(const std::string& option, const std::string& text,
                                                const std::vector<std::string>& allowed) {
  std::string msg = fmt::format("option '{}': invalid value '{}'; expected one of {}", option, text,
                                fmt::join(allowed, ", "));
  std::string near = closest_match(text, allowed);
  if (!near.empty()) msg += fmt::format(" (did you mean '{}'?)", near);
  throw ConfigError(msg);
}
}  // namespace detail

/// Parses the value `text` of option `option` (dotted name, for the message). Throws ConfigError
/// naming the option, the value and the allowed names.
template <typename E>
E parse_option(const std::string& option, const std::string& text) {
  if (auto v = enum_from_name<E>(text)) return *v;
  detail::throw_bad_option_value(option, text, enum_names<E>());
}

}  // namespace mmaux
