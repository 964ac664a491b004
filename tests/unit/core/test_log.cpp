#include <gtest/gtest.h>

#include "mmaux/core/error.h"
#include "mmaux/core/log.h"

namespace mmaux {
namespace {

TEST(Log, PrefixHasLevelSubsystemAndRankWhenDistributed) {
  LogConfig c;
  c.rank = 1;
  c.world_size = 4;
  std::string p = format_log_prefix(LogLevel::kWarn, "data", c);
  EXPECT_NE(p.find("WARN"), std::string::npos) << p;
  EXPECT_NE(p.find("[rank 1/4] [data] "), std::string::npos) << p;
  // Timestamp "YYYY-MM-DD HH:MM:SS.mmm".
  ASSERT_GE(p.size(), 23u);
  EXPECT_EQ(p[4], '-');
  EXPECT_EQ(p[19], '.');
}

TEST(Log, NoRankPrefixForOneProcess) {
  LogConfig c;
  std::string p = format_log_prefix(LogLevel::kInfo, "train", c);
  EXPECT_EQ(p.find("[rank"), std::string::npos) << p;
}

TEST(Log, RankZeroOnlyByDefaultButErrorsEverywhere) {
  LogConfig saved = logging_config();
  LogConfig c;
  c.rank = 2;
  c.world_size = 4;
  configure_logging(c);
  EXPECT_FALSE(log_enabled(LogLevel::kInfo));
  EXPECT_TRUE(log_enabled(LogLevel::kWarn));
  EXPECT_TRUE(log_enabled(LogLevel::kError));
  c.all_ranks = true;
  configure_logging(c);
  EXPECT_TRUE(log_enabled(LogLevel::kInfo));
  EXPECT_FALSE(log_enabled(LogLevel::kDebug));
  c.level = LogLevel::kDebug;
  configure_logging(c);
  EXPECT_TRUE(log_enabled(LogLevel::kDebug));
  configure_logging(saved);
}

}  // namespace
}  // namespace mmaux
