#pragma once
// The raw-format parsers as the libFuzzer targets drive them (bench/data/fuzz_raw_formats.cpp),
// shared with the test that replays their committed corpora (tests/preprocessing/
// test_fuzz_replay.cpp). A DataError or ConfigError is the expected answer to a bad file;
// anything else (a crash, a sanitizer report, another exception, a broken invariant below) is a
// finding.
#include <algorithm>
#include <string>
#include <string_view>

#include "mmaux/core/error.h"
#include "readers.h"

namespace mmaux::preprocessing::fuzz {

/// What every parser promises: each post has an id field, a source and a label or an empty
/// label; every row is a post, a skip or a filtered row.
inline void check_dataset(const data::RawDataset& raw) {
  for (const auto& p : raw.posts) {
    MMAUX_ASSERT(!p.source.empty(), "post '{}' has no source", p.post_id);
  }
  for (const auto& s : raw.skipped) MMAUX_ASSERT(!s.reason.empty(), "skip without a reason");
  for (const auto& s : raw.filtered) MMAUX_ASSERT(!s.reason.empty(), "filter without a reason");
}

/// The csv layout's posts file, with inferred classes and with a declared label set.
inline void csv_posts(std::string_view input) {
  for (const char* classes : {"", "negative,neutral,positive"}) {
    PreprocessOptions o;
    o.classes = classes;
    try {
      auto raw = parse_csv_posts(input, "posts.csv", o);
      check_dataset(raw);
      MMAUX_ASSERT(
          std::is_sorted(raw.class_names.begin(), raw.class_names.end()) || !o.classes.empty(),
          "inferred classes are not sorted");
    } catch (const DataError&) {
    } catch (const ConfigError&) {
    }
  }
}

/// MSD's Python-literal lines, as the training file (keyword filter, 3 items) and as a
/// validation file (4 items).
inline void msd_lines(std::string_view input) {
  for (const MsdFile& file : kMsdFiles) {
    data::RawDataset raw;
    raw.class_names = {"not sarcastic", "sarcastic"};
    try {
      parse_msd_file(input, file, raw);
      check_dataset(raw);
      if (!file.keyword_filter) MMAUX_ASSERT(raw.filtered.empty(), "filtered outside training");
    } catch (const DataError&) {
    }
  }
}

/// MVSA's labelResultAll.txt.
inline void mvsa_labels(std::string_view input) {
  try {
    auto raw = parse_mvsa_labels(input);
    check_dataset(raw);
    for (const auto& p : raw.posts) {
      MMAUX_ASSERT(p.image == "data/" + p.post_id + ".jpg", "image path of '{}'", p.post_id);
    }
  } catch (const DataError&) {
  }
}

}  // namespace mmaux::preprocessing::fuzz
