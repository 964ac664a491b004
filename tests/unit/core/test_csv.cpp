#include <gtest/gtest.h>

#include "mmaux/core/csv.h"

namespace mmaux {
namespace {

TEST(Csv, QuotesNewlinesAndStrayQuotes) {
  auto r =
      parse_csv("\xEF\xBB\xBFid,text\n1,\"a, \"\"b\"\"\nc\"\n2,He said \"hi\" there\r\n\n3,x\n");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[1].fields[1], "a, \"b\"\nc");
  EXPECT_EQ(r[2].fields[1], "He said \"hi\" there");
  EXPECT_EQ(r[2].line, 4);
  EXPECT_EQ(r[3].line, 6);
  EXPECT_EQ(csv_row({"a", "b,c", "d\"e"}), "a,\"b,c\",\"d\"\"e\"\n");
}

TEST(Csv, QuoteOnlyWhatNeedsIt) {
  EXPECT_EQ(csv_quote("plain text"), "plain text");
  EXPECT_EQ(csv_quote(""), "");
  EXPECT_EQ(csv_quote("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_quote("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_quote("line\nbreak"), "\"line\nbreak\"");
  // A bare \r ends a record for the reader (old Mac files), so it must be quoted too.
  EXPECT_EQ(csv_quote("carriage\rreturn"), "\"carriage\rreturn\"");
  EXPECT_EQ(csv_quote("a;b", ';'), "\"a;b\"");
  EXPECT_EQ(csv_quote("a,b", ';'), "a,b");
}

TEST(Csv, EveryFieldRoundTrips) {
  const std::vector<std::vector<std::string>> rows = {
      {"x\ny", "q\"", ""},
      {"cr\r", "\rlead", "crlf\r\nin", "\"", ","},
      {"", "", ""},
      {""},
      {"trailing space ", " leading", "tab\there"},
  };
  std::string text;
  for (const auto& row : rows) text += csv_row(row);
  auto back = parse_csv(text);
  ASSERT_EQ(back.size(), rows.size()) << text;
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(back[i].fields, rows[i]) << "row " << i;
  for (char sep : {';', '\t'}) {
    auto one = parse_csv(csv_row(rows[1], sep), sep);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0].fields, rows[1]);
  }
}

}  // namespace
}  // namespace mmaux
