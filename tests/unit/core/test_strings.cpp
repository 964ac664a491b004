#include <gtest/gtest.h>

#include "mmaux/core/strings.h"

namespace mmaux {
namespace {

TEST(Strings, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("train.lrr", "train.lr"), 1u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(Strings, ClosestMatch) {
  std::vector<std::string> c = {"train.lr", "train.epochs", "loss.itc"};
  EXPECT_EQ(closest_match("train.lrr", c), "train.lr");
  EXPECT_EQ(closest_match("loss.itm", c), "loss.itc");
  EXPECT_EQ(closest_match("completely.different", c), "");
}

TEST(Strings, SplitKeepsEmptyFields) {
  EXPECT_EQ(split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split("", ','), (std::vector<std::string>{""}));
}

TEST(Strings, Trim) { EXPECT_EQ(trim("  a b \t\n"), "a b"); }

TEST(Strings, CountTextHasThreeSignificantDigits) {
  EXPECT_EQ(count_text(0), "0");
  EXPECT_EQ(count_text(87), "87");
  EXPECT_EQ(count_text(999), "999");
  EXPECT_EQ(count_text(1000), "1.00 k");
  EXPECT_EQ(count_text(12345), "12.3 k");
  EXPECT_EQ(count_text(4890123), "4.89 M");
  EXPECT_EQ(count_text(110000000), "110 M");
  EXPECT_EQ(count_text(999960), "1.00 M");
  EXPECT_EQ(count_text(1100000000), "1.10 G");
  EXPECT_EQ(count_text(-1500), "-1.50 k");
}

TEST(Strings, UtcNowFollowsTheFormat) {
  const std::string iso = utc_now("%Y-%m-%dT%H:%M:%SZ");
  ASSERT_EQ(iso.size(), 20u) << iso;
  EXPECT_EQ(iso[4], '-');
  EXPECT_EQ(iso[10], 'T');
  EXPECT_EQ(iso.back(), 'Z');
  EXPECT_EQ(utc_now("%Y%m%d-%H%M%S").size(), 15u);
  EXPECT_EQ(utc_now("%Y").substr(0, 2), iso.substr(0, 2));
}

}  // namespace
}  // namespace mmaux
