#include <gtest/gtest.h>

#include "mmaux/core/error.h"
#include "support/test_support.h"

namespace mmaux {
namespace {

using testing::message_of;

TEST(Check, PassingCheckDoesNothing) { EXPECT_NO_THROW(MMAUX_CHECK(1 + 1 == 2, "never")); }

TEST(Check, MessageIsFormatted) {
  EXPECT_EQ(
      message_of([] { MMAUX_CHECK(false, "data.shards matched {} files under '{}'", 0, "x"); }),
      "data.shards matched 0 files under 'x'");
}

TEST(Check, TypedChecksThrowTheirType) {
  EXPECT_THROW(MMAUX_CHECK_CONFIG(false, "c"), ConfigError);
  EXPECT_THROW(MMAUX_CHECK_DATA(false, "d"), DataError);
  EXPECT_THROW(MMAUX_CHECK_COMM(false, "m"), CommError);
  EXPECT_THROW(MMAUX_CHECK(false, "e"), Error);
}

TEST(Check, ExitCodes) {
  EXPECT_EQ(ConfigError("x").exit_code(), 2);
  EXPECT_EQ(DataError("x").exit_code(), 1);
  EXPECT_EQ(InternalError("x").exit_code(), 1);
}

TEST(Assert, SaysItIsABugAndWhere) {
  std::string msg = message_of([] { MMAUX_ASSERT(2 < 1, "sizes {} and {}", 3, 4); });
  EXPECT_NE(msg.find("check '2 < 1' failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test_error.cpp"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sizes 3 and 4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("this is a bug"), std::string::npos) << msg;
  EXPECT_THROW(MMAUX_ASSERT(false), InternalError);
}

}  // namespace
}  // namespace mmaux
