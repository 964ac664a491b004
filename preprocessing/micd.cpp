// MICD (Sánchez Villegas et al. 2023): data_key_mic.csv with id, domain, year, month, label
// (1 commercial, 0 not), split (by account). Texts and images are obtained separately from the
// platform; mmaux expects them as texts/{id}.txt (UTF-8) and images/{id}_1.jpg.
#include <filesystem>

#include "mmaux/core/csv.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/strings.h"
#include "readers.h"

namespace fs = std::filesystem;

namespace mmaux::preprocessing {

data::RawDataset read_micd(const PreprocessOptions& o) {
  require_file(o.raw, "data_key_mic.csv", "MICD",
               "data_key_mic.csv, texts/{id}.txt, images/{id}_1.jpg");
  fs::path file = fs::path(o.raw) / "data_key_mic.csv";
  auto records = parse_csv(read_whole_file(file.string()));
  MMAUX_CHECK_DATA(!records.empty(), "'{}' is empty", file.string());
  auto header = lower_header(records[0].fields);
  int id = column_index(header, "id"), label = column_index(header, "label"),
      split_col = column_index(header, "split"), domain = column_index(header, "domain"),
      year = column_index(header, "year"), month = column_index(header, "month");
  MMAUX_CHECK_DATA(id >= 0 && label >= 0 && split_col >= 0,
                   "'{}' needs columns id, label and split (found: {})", file.string(),
                   fmt::join(header, ","));
  data::RawDataset raw;
  raw.name = "micd";
  raw.raw_dir = o.raw;
  raw.class_names = {"not commercial", "commercial"};
  raw.meta_names = {"domain", "year", "month"};
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& f = records[r].fields;
    std::string source = fmt::format("data_key_mic.csv:{}", records[r].line);
    if (f.size() != header.size()) {
      raw.skipped.push_back({f.empty() ? "" : f[0], source, data::skip_reason::kMalformedRow,
                             fmt::format("{} fields, the header has {}", f.size(), header.size())});
      continue;
    }
    data::RawPost p;
    p.post_id = trim(f[id]);
    std::string l = trim(f[label]);
    p.label = l == "0" ? raw.class_names[0] : l == "1" ? raw.class_names[1] : "label " + l;
    p.split = trim(f[split_col]);
    auto get = [&](int c) { return c >= 0 ? trim(f[c]) : std::string(); };
    p.meta = {get(domain), get(year), get(month)};
    fs::path text_file = fs::path(o.raw) / "texts" / (p.post_id + ".txt");
    p.text = fs::exists(text_file) ? trim(read_whole_file(text_file.string())) : "";
    p.image = "images/" + p.post_id + "_1.jpg";
    p.source = source;
    raw.posts.push_back(std::move(p));
  }
  return raw;
}

}  // namespace mmaux::preprocessing
