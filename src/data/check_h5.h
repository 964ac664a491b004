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

namespace mmaux::data::detail {

/// HDF5 prints its error stack to stderr by default; our exceptions carry the message instead.
/// The setting is per thread in thread-safe builds, so every entry point calls this.
inline void quiet_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

/// Closes an HDF5 handle with the right function when it goes out of scope.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
    return *this;
  }
  ~Handle() { reset(); }
  void reset() {
    if (id_ >= 0 && close_ != nullptr) close_(id_);
    id_ = -1;
  }
  hid_t get() const { return id_; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

}  // namespace mmaux::data::detail
