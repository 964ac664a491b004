// Generic csv layout: one file of posts with a header row.
#include <filesystem>
#include <set>

#include "mmaux/core/csv.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "readers.h"

namespace fs = std::filesystem;

namespace mmaux::preprocessing {

data::RawDataset read_csv_dataset(const PreprocessOptions& o) {
  require_file(o.raw, o.csv_file, "csv", "a posts file with post_id,text,label columns and images");
  fs::path file = fs::path(o.raw) / o.csv_file;
  auto records = parse_csv(read_whole_file(file.string()));
  MMAUX_CHECK_DATA(!records.empty(), "'{}' is empty; expected a header row post_id,text,label,...",
                   file.string());
  auto header = lower_header(records[0].fields);
  int id = column_index(header, "post_id"), text = column_index(header, "text"),
      label = column_index(header, "label"), split = column_index(header, "split"),
      relation = column_index(header, "relation"), decided = column_index(header, "decided_by"),
      image = column_index(header, "image");
  MMAUX_CHECK_DATA(id >= 0 && text >= 0 && label >= 0,
                   "'{}' must have the columns post_id, text and label (found: {})", file.string(),
                   fmt::join(header, ", "));
  data::RawDataset raw;
  raw.name = "csv";
  raw.raw_dir = o.raw;
  if (decided >= 0) raw.meta_names = {"decided_by"};
  std::set<std::string> labels, relations;
  const std::string name = file.filename().string();
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& f = records[r].fields;
    std::string source = fmt::format("{}:{}", name, records[r].line);
    if (f.size() != header.size()) {
      raw.skipped.push_back({f.empty() ? "" : f[0], source, data::skip_reason::kMalformedRow,
                             fmt::format("{} fields, the header has {}", f.size(), header.size())});
      continue;
    }
    data::RawPost p;
    p.post_id = f[id];
    p.text = f[text];
    p.label = f[label];
    p.split = split >= 0 ? f[split] : "";
    p.relation = relation >= 0 ? f[relation] : "";
    if (decided >= 0) p.meta = {f[decided]};
    if (image >= 0 && !f[image].empty()) {
      p.image = f[image];
    } else {
      p.image = o.image_template;
      auto at = p.image.find("{post_id}");
      if (at != std::string::npos) p.image.replace(at, 9, p.post_id);
    }
    p.source = source;
    if (!p.label.empty()) labels.insert(p.label);
    if (!p.relation.empty()) relations.insert(p.relation);
    raw.posts.push_back(std::move(p));
  }
  // Class ids follow the sorted label names; an empty label is "unknown label" in the pipeline.
  raw.class_names.assign(labels.begin(), labels.end());
  raw.relation_names.assign(relations.begin(), relations.end());
  // The synthetic data set's relations have a natural order.
  if (relations == std::set<std::string>{"describes", "loose", "unrelated"}) {
    raw.relation_names = {"describes", "loose", "unrelated"};
  }
  return raw;
}

}  // namespace mmaux::preprocessing
