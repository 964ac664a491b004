#pragma once
// Private: JSON helpers for config.json and safetensors headers (nlohmann::json stays out of the
// public headers).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "mmaux/core/error.h"

namespace mmaux::model {

/// Parses `text` as a JSON object. Nesting deeper than `max_depth` is rejected while parsing (a
/// hostile header cannot exhaust the stack). Throws DataError naming `origin`.
inline nlohmann::json parse_json_object(const std::string& text, const std::string& origin,
                                        int max_depth = 16) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
      if (depth > max_depth) {
        MMAUX_THROW(DataError, "{}: JSON nested deeper than {} levels", origin, max_depth);
      }
      return true;
    });
  } catch (const nlohmann::json::exception& e) {
    MMAUX_THROW(DataError, "{}: invalid JSON: {}", origin, e.what());
  }
  MMAUX_CHECK_DATA(j.is_object(), "{}: expected a JSON object, got {}", origin, j.type_name());
  return j;
}

/// Reads j[key] into `out` when present; wrong JSON types are a DataError naming key and origin.
template <typename T>
void get_to(const nlohmann::json& j, const char* key, T& out, const std::string& origin) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  bool ok;
  if constexpr (std::is_same_v<T, bool>) {
    ok = it->is_boolean();
  } else if constexpr (std::is_integral_v<T>) {
    ok = it->is_number_integer();
  } else if constexpr (std::is_floating_point_v<T>) {
    ok = it->is_number();
  } else {
    ok = it->is_string();
  }
  MMAUX_CHECK_DATA(ok, "{}: '{}' has the wrong type ({}: {})", origin, key, it->type_name(),
                   it->dump());
  out = it->get<T>();
}

}  // namespace mmaux::model
