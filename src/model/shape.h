#pragma once
// Private: shapes in error messages.

#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <string>

namespace mmaux::model {

/// "[2, 3, 4]".
inline std::string shape_string(c10::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace mmaux::model
