// Generic csv layout: one file of posts with a header row.
#include <filesystem>
#include <map>
#include <set>

#include "mmaux/core/csv.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/log.h"
#include "mmaux/core/strings.h"
#include "readers.h"

namespace fs = std::filesystem;

namespace mmaux::preprocessing {
namespace {

// --classes "a,b,c": the names in class id order (trimmed, none empty, no repeats).
std::vector<std::string> declared_classes(const std::string& text) {
  std::vector<std::string> names;
  for (const auto& part : split(text, ',')) {
    std::string name = trim(part);
    MMAUX_CHECK_CONFIG(!name.empty(), "--classes '{}' has an empty class name; expected a,b,c",
                       text);
    MMAUX_CHECK_CONFIG(std::find(names.begin(), names.end(), name) == names.end(),
                       "--classes '{}' names '{}' twice", text, name);
    names.push_back(std::move(name));
  }
  return names;
}

// Without --classes, the classes are the labels found, sorted by name: say so with their counts,
// and warn about rare ones (a mistyped label silently becomes a class of its own).
void infer_classes(data::RawDataset& raw, const std::string& file_name) {
  std::map<std::string, int64_t> counts;
  for (const auto& p : raw.posts) {
    if (!p.label.empty()) counts[p.label]++;
  }
  int64_t total = 0;
  std::string listing;
  for (const auto& [name, n] : counts) {
    raw.class_names.push_back(name);
    total += n;
    listing += fmt::format("{}{} {}", listing.empty() ? "" : ", ", name, n);
  }
  raw.notes.push_back(
      fmt::format("classes inferred from the labels of {} (sorted): {}", file_name, listing));
  log_info("data", "{} classes inferred from the labels of {} (declare them with --classes): {}",
           counts.size(), file_name, listing);
  for (const auto& [name, n] : counts) {
    if (100 * n < total) {
      raw.warnings.push_back(fmt::format(
          "class '{}' has {} of the {} labelled posts ({:.2f} %, under 1 %): a mistyped label "
          "makes a class of its own and changes the classifier's width; declare the label set "
          "with --classes so that other labels are skipped",
          name, n, total, 100.0 * double(n) / double(total)));
    }
  }
}

}  // namespace

data::RawDataset parse_csv_posts(std::string_view content, const std::string& name,
                                 const PreprocessOptions& o) {
  auto records = parse_csv(content);
  MMAUX_CHECK_DATA(!records.empty(), "'{}' is empty; expected a header row post_id,text,label,...",
                   name);
  auto header = lower_header(records[0].fields);
  int id = column_index(header, "post_id"), text = column_index(header, "text"),
      label = column_index(header, "label"), split = column_index(header, "split"),
      relation = column_index(header, "relation"), decided = column_index(header, "decided_by"),
      image = column_index(header, "image");
  MMAUX_CHECK_DATA(id >= 0 && text >= 0,
                   "'{}' must have the columns post_id and text, and label unless the posts are "
                   "unlabeled (found: {})",
                   name, fmt::join(header, ", "));
  data::RawDataset raw;
  raw.name = "csv";
  // Without a label column the posts are unlabeled: a data set for `mmaux pretrain`.
  raw.labelled = label >= 0;
  MMAUX_CHECK_CONFIG(raw.labelled || o.classes.empty(),
                     "--classes '{}' was given but '{}' has no label column (an unlabeled data "
                     "set has no classes); drop --classes or add the labels",
                     o.classes, name);
  if (decided >= 0) raw.meta_names = {"decided_by"};
  std::set<std::string> relations;
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
    p.label = label >= 0 ? f[label] : "";
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
    if (!p.relation.empty()) relations.insert(p.relation);
    raw.posts.push_back(std::move(p));
  }
  // Class ids follow --classes, else the sorted label names; a label outside them (or empty) is
  // "unknown label" in the pipeline.
  if (!raw.labelled) {
    raw.notes.push_back(fmt::format("{} has no label column: unlabeled posts", name));
    log_info("data", "{} has no label column: an unlabeled data set (for 'mmaux pretrain')", name);
  } else if (!o.classes.empty()) {
    raw.class_names = declared_classes(o.classes);
    raw.notes.push_back(fmt::format("classes declared by --classes: {}", o.classes));
  } else {
    infer_classes(raw, name);
  }
  raw.relation_names.assign(relations.begin(), relations.end());
  // The synthetic data set's relations have a natural order.
  if (relations == std::set<std::string>{"describes", "loose", "unrelated"}) {
    raw.relation_names = {"describes", "loose", "unrelated"};
  }
  return raw;
}

data::RawDataset read_csv_dataset(const PreprocessOptions& o) {
  require_file(o.raw, o.csv_file, "csv", "a posts file with post_id,text,label columns and images");
  fs::path file = fs::path(o.raw) / o.csv_file;
  data::RawDataset raw =
      parse_csv_posts(read_whole_file(file.string()), file.filename().string(), o);
  raw.raw_dir = o.raw;
  return raw;
}

}  // namespace mmaux::preprocessing
