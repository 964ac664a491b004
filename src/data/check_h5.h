#pragma once
// Private: wraps HDF5 return codes (negative herr_t / hid_t means failure). HDF5's own error
// stack is printed by the library unless silenced; the message here names the call and the file.
#include <hdf5.h>

#include <string>

#include "mmaux/core/error.h"

namespace mmaux::detail {
/// Returns the innermost message of HDF5's current error stack ("" if none).
inline std::string h5_last_error() {
  std::string out;
  auto walk = [](unsigned, const H5E_error2_t* err, void* data) -> herr_t {
    auto* s = static_cast<std::string*>(data);
    if (s->empty() && err->desc != nullptr) *s = err->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk, &out);
  return out.empty() ? std::string("no HDF5 error message") : out;
}
}  // namespace mmaux::detail

/// Evaluates an HDF5 call; throws DataError naming the call and `what` (usually the file path).
#define MMAUX_H5_CHECK(call, what)                                                              \
  ([&]() {                                                                                      \
    auto mmaux_h5_rc_ = (call);                                                                 \
    if (mmaux_h5_rc_ < 0) {                                                                     \
      throw ::mmaux::DataError(::fmt::format("HDF5 call {} failed for '{}': {}", #call, (what), \
                                             ::mmaux::detail::h5_last_error()));                \
    }                                                                                           \
    return mmaux_h5_rc_;                                                                        \
  }())
