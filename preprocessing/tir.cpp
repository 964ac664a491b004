// TIR (Vempala & Preoţiuc-Pietro 2019), the release with tweet text: textimage-data.csv with
// every field quoted: tweet_id, user_id, tweet, text_is_represented, image_adds and four binary
// class columns.
//
// Quotes inside tweets are escaped with a backslash (\"), not doubled: 186 of the 4,471 rows of
// the distributed file. The paper's code read the file with Python's csv module, which knows no
// escape character: it keeps the backslashes, splits 32 of those rows at commas inside the tweet
// (its reader re-joins the extra fields with ", ") and gives two rows whose tweet ends in \"
// only 8 fields (its data frame kept them with the last label column empty). Read as its writer
// wrote it, with \" as a quote, every row has its 9 fields and the exact tweet: that is what
// mmaux does (recorded in the report's notes). The labels are the same either way. Rows that
// still have extra fields (quoting broken otherwise) have them re-joined into the tweet: the
// class columns are always the last four and the tweet is everything between user_id and them.
#include <filesystem>

#include "mmaux/core/csv.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/strings.h"
#include "readers.h"

namespace fs = std::filesystem;

namespace mmaux::preprocessing {

data::RawDataset read_tir(const PreprocessOptions& o) {
  require_file(o.raw, "textimage-data.csv", "TIR", "textimage-data.csv and T{tweet_id}.jpg images");
  fs::path file = fs::path(o.raw) / "textimage-data.csv";
  auto records = parse_csv(read_whole_file(file.string()), CsvDialect{',', true});
  MMAUX_CHECK_DATA(!records.empty(), "'{}' is empty", file.string());
  auto header = lower_header(records[0].fields);
  MMAUX_CHECK_DATA(header.size() >= 9 && header[0] == "tweet_id" && header[2] == "tweet",
                   "'{}' does not look like TIR's textimage-data.csv (header: {})", file.string(),
                   fmt::join(header, ","));
  data::RawDataset raw;
  raw.name = "tir";
  raw.raw_dir = o.raw;
  raw.class_names = {"image_adds_text_repr", "image_adds_text_notrepr", "image_notadds_text_repr",
                     "image_notadds_text_notrepr"};
  // Images are T{id}.jpg in the raw directory or in an images/ subdirectory.
  std::string image_dir = fs::exists(fs::path(o.raw) / "images") ? "images/" : "";
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& f = records[r].fields;
    std::string source = fmt::format("textimage-data.csv:{}", records[r].line);
    if (f.size() < 9) {
      raw.skipped.push_back({f.empty() ? "" : f[0], source, data::skip_reason::kMalformedRow,
                             fmt::format("{} fields, expected 9", f.size())});
      continue;
    }
    data::RawPost p;
    p.post_id = trim(f[0]);
    std::vector<std::string> text_parts(f.begin() + 2, f.end() - 6);
    p.text = fmt::format("{}", fmt::join(text_parts, ","));
    int best = -1, best_value = -1;
    bool numeric = true;
    for (int c = 0; c < 4; ++c) {
      std::string v = trim(f[f.size() - 4 + c]);
      if (v != "0" && v != "1") numeric = false;
      int value = v == "1" ? 1 : 0;
      if (value > best_value) {
        best_value = value;
        best = c;
      }
    }
    // Labels that are not 0/1, or all zero, leave the post without a known class.
    p.label = numeric && best_value == 1 ? raw.class_names[best] : "";
    p.image = fmt::format("{}T{}.jpg", image_dir, p.post_id);
    p.source = source;
    raw.posts.push_back(std::move(p));
  }
  raw.notes.push_back("class = first maximum of the last four label columns; random split");
  raw.notes.push_back(
      "backslash-escaped quotes (\\\") inside the tweet are read as quotes, as the file was "
      "written; the paper's Python csv reader kept the backslashes and mis-split those rows");
  return raw;
}

}  // namespace mmaux::preprocessing
