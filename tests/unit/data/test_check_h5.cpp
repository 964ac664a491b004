// The HDF5 call wrapper (private to the data area, which alone uses HDF5).
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "data/check_h5.h"
#include "mmaux/core/error.h"
#include "support/test_support.h"

namespace mmaux {
namespace {

using testing::message_of;

TEST(ForeignCheck, Hdf5NamesCallAndFile) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  std::string path = "/nonexistent/dir/file.h5";
  std::string msg =
      message_of([&] { MMAUX_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path); });
  EXPECT_NE(msg.find("H5Fopen"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/nonexistent/dir/file.h5"), std::string::npos) << msg;
  EXPECT_THROW(MMAUX_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path), DataError);
}

}  // namespace
}  // namespace mmaux
