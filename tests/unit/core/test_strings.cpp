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

}  // namespace
}  // namespace mmaux
