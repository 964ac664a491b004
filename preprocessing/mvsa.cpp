// MVSA-Single (Niu et al. 2016): labelResultAll.txt ("ID<TAB>text,image" header, then
// "id<TAB>text_label,image_label"), data/{id}.txt (Latin-1, first line only), data/{id}.jpg.
// Post label: equal labels → that label; one neutral and one polar → the polar one; positive
// against negative → dropped ("conflicting labels").
#include <filesystem>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/strings.h"
#include "mmaux/data/text.h"
#include "readers.h"

namespace fs = std::filesystem;

namespace mmaux::preprocessing {

data::RawDataset read_mvsa(const PreprocessOptions& o) {
  require_file(o.raw, "labelResultAll.txt", "MVSA-Single",
               "labelResultAll.txt and data/{id}.txt|jpg");
  fs::path file = fs::path(o.raw) / "labelResultAll.txt";
  std::string content = read_whole_file(file.string());
  data::RawDataset raw;
  raw.name = "mvsa";
  raw.raw_dir = o.raw;
  raw.class_names = {"neutral", "positive", "negative"};
  auto lines = split(content, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = trim(lines[i]);
    if (line.empty()) continue;
    std::string source = fmt::format("labelResultAll.txt:{}", i + 1);
    auto cols = split(line, '\t');
    if (i == 0 && !cols.empty() && trim(cols[0]) == "ID") continue;  // header
    std::vector<std::string> labels =
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
    std::string t = trim(labels[0]), v = trim(labels[1]);
    if (t == v) {
      p.label = t;
    } else if (t == "neutral") {
      p.label = v;
    } else if (v == "neutral") {
      p.label = t;
    } else if ((t == "positive" && v == "negative") || (t == "negative" && v == "positive")) {
      raw.skipped.push_back({p.post_id, source, data::skip_reason::kConflictingLabels,
                             fmt::format("text {} vs image {}", t, v)});
      continue;
    } else {
      p.label = t + "/" + v;  // unknown label names: reported by the pipeline
    }
    fs::path text_file = fs::path(o.raw) / "data" / (p.post_id + ".txt");
    if (!fs::exists(text_file)) {
      p.text = "";  // reported as "empty text"
    } else {
      std::string bytes = read_whole_file(text_file.string());
      auto nl = bytes.find_first_of("\r\n");
      if (nl != std::string::npos) bytes = bytes.substr(0, nl);
      // MVSA texts are Latin-1; files that are valid UTF-8 (re-saved copies) are kept as is.
      p.text = data::is_valid_utf8(bytes) ? bytes : data::latin1_to_utf8(bytes);
    }
    p.image = "data/" + p.post_id + ".jpg";
    raw.posts.push_back(std::move(p));
  }
  raw.notes.push_back("labels merged: equal, neutral+polar -> polar, positive vs negative dropped");
  return raw;
}

}  // namespace mmaux::preprocessing
