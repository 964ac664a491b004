// MVSA-Single (Niu et al. 2016): labelResultAll.txt ("ID<TAB>text,image" header, then
// "id<TAB>text_label,image_label"), data/{id}.txt (Latin-1, first line only), data/{id}.jpg.
// Post label: equal labels → that label; one neutral and one polar → the polar one; positive
// against negative → filtered ("conflicting labels", the data set's own rule).
#include <filesystem>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/strings.h"
#include "mmaux/data/text.h"
#include "readers.h"

namespace fs = std::filesystem;

namespace mmaux::preprocessing {

data::RawDataset parse_mvsa_labels(std::string_view content) {
  data::RawDataset raw;
  raw.name = "mvsa";
  raw.class_names = {"neutral", "positive", "negative"};
  const auto lines = split(content, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string line = trim(lines[i]);
    if (line.empty()) continue;
    const std::string source = fmt::format("labelResultAll.txt:{}", i + 1);
    const auto cols = split(line, '\t');
    if (i == 0 && !cols.empty() && trim(cols[0]) == "ID") continue;  // header
    const std::vector<std::string> labels =
        cols.size() == 2 ? split(cols[1], ',') : std::vector<std::string>{};
    if (labels.size() != 2) {
      raw.skipped.push_back({cols.empty() ? "" : trim(cols[0]), source,
                             data::skip_reason::kMalformedRow,
                             "expected 'id<TAB>text_label,image_label'"});
      continue;
    }
    data::RawPost p;
    p.post_id = trim(cols[0]);
    p.source = source;
    const std::string t = trim(labels[0]), v = trim(labels[1]);
    if ((t == "positive" && v == "negative") || (t == "negative" && v == "positive")) {
      raw.filtered.push_back({p.post_id, source, data::filter_reason::kConflictingLabels,
                              fmt::format("text {} vs image {}", t, v)});
      continue;
    }
    // Equal labels, or neutral and a polar one (the polar wins); other names are reported as
    // unknown labels by the pipeline.
    p.label = t == v ? t : t == "neutral" ? v : v == "neutral" ? t : t + "/" + v;
    p.image = "data/" + p.post_id + ".jpg";
    raw.posts.push_back(std::move(p));
  }
  raw.notes.push_back(
      "labels merged: equal, neutral+polar -> polar; positive vs negative filtered (the data "
      "set's rule)");
  return raw;
}

data::RawDataset read_mvsa(const PreprocessOptions& o) {
  require_file(o.raw, "labelResultAll.txt", "MVSA-Single",
               "labelResultAll.txt and data/{id}.txt|jpg");
  fs::path file = fs::path(o.raw) / "labelResultAll.txt";
  data::RawDataset raw = parse_mvsa_labels(read_whole_file(file.string()));
  raw.raw_dir = o.raw;
  for (auto& p : raw.posts) {
    fs::path text_file = fs::path(o.raw) / "data" / (p.post_id + ".txt");
    if (!fs::is_regular_file(text_file)) continue;  // reported as "empty text"
    std::string bytes = read_whole_file(text_file.string());
    auto nl = bytes.find_first_of("\r\n");
    if (nl != std::string::npos) bytes = bytes.substr(0, nl);
    // MVSA texts are Latin-1; files that are valid UTF-8 (re-saved copies) are kept as is.
    p.text = data::is_valid_utf8(bytes) ? bytes : data::latin1_to_utf8(bytes);
  }
  return raw;
}

}  // namespace mmaux::preprocessing
