// MPI error wrappers, with MPI initialised (Open MPI has no error strings before MPI_Init).
#include <gtest/gtest.h>

#include "dist/check_mpi.h"
#include "mmaux/core/error.h"
#include "support/test_support.h"

namespace mmaux {
namespace {

using testing::message_of;

TEST(ForeignCheck, MpiNamesCallErrorAndRank) {
  set_error_rank(3);
  std::string msg = message_of([] { MMAUX_MPI_CHECK(MPI_ERR_TRUNCATE); });
  set_error_rank(-1);
  EXPECT_NE(msg.find("MPI call MPI_ERR_TRUNCATE failed on rank 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_THROW(MMAUX_MPI_CHECK(MPI_ERR_COMM), CommError);
  EXPECT_NO_THROW(MMAUX_MPI_CHECK(MPI_SUCCESS));
}

}  // namespace
}  // namespace mmaux
