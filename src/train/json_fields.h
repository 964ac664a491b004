#pragma once
// Private: reading typed fields of run records (results.json, best.json) with errors that name
// the record and the field.

#include <nlohmann/json.hpp>

#include <string>

#include "mmaux/core/error.h"

namespace mmaux::train::detail {

/// `j[key]` into `out` when present and not null; DataError naming `what` and the key when it has
/// another type.
template <typename T>
void read_field(const nlohmann::json& j, const char* key, T& out, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    out = it->get<T>();
  } catch (const nlohmann::json::exception& e) {
    MMAUX_THROW(DataError, "{}: \"{}\" has the wrong type ({}): {}", what, key, it->type_name(),
                e.what());
  }
}

/// `j`, or DataError naming `what` when it is not an object.
inline const nlohmann::json& object_or_throw(const nlohmann::json& j, const std::string& what) {
  MMAUX_CHECK_DATA(j.is_object(), "{} is not a JSON object", what);
  return j;
}

}  // namespace mmaux::train::detail
