// MHP (Botelho et al. 2021): Data/{Train,Validation,Test}/dog_whistle_{train,dev,test}.csv with
// columns image_number, tweet_text, img_text (OCR of the image), Primary_numeric_gt (0 none,
// 1 hateful, 2 counter-speech, 3 reclaimed); images Data/Images/{image_number}.jpg. The post text
// is tweet_text + " " + img_text.
#include <filesystem>

#include "mmaux/core/csv.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/strings.h"
#include "readers.h"

namespace fs = std::filesystem;

namespace mmaux::preprocessing {

data::RawDataset read_mhp(const PreprocessOptions& o) {
  require_file(o.raw, "Data/Train/dog_whistle_train.csv", "MHP",
               "Data/{Train,Validation,Test}/dog_whistle_*.csv and Data/Images/");
  data::RawDataset raw;
  raw.name = "mhp";
  raw.raw_dir = o.raw;
  raw.class_names = {"none", "hateful", "counter-speech", "reclaimed"};
  const std::pair<const char*, const char*> kFiles[] = {
      {"Train/dog_whistle_train.csv", "train"},
      {"Validation/dog_whistle_dev.csv", "validation"},
      {"Test/dog_whistle_test.csv", "test"}};
  for (const auto& [rel, split_name] : kFiles) {
    fs::path file = fs::path(o.raw) / "Data" / rel;
    auto records = parse_csv(read_whole_file(file.string()));
    MMAUX_CHECK_DATA(!records.empty(), "'{}' is empty", file.string());
    auto header = lower_header(records[0].fields);
    int img = column_index(header, "image_number"), tweet = column_index(header, "tweet_text"),
        ocr = column_index(header, "img_text"), gt = column_index(header, "primary_numeric_gt");
    MMAUX_CHECK_DATA(img >= 0 && tweet >= 0 && ocr >= 0 && gt >= 0,
                     "'{}' needs columns image_number, tweet_text, img_text, Primary_numeric_gt",
                     file.string());
    for (size_t r = 1; r < records.size(); ++r) {
      const auto& f = records[r].fields;
      std::string source = fmt::format("{}:{}", rel, records[r].line);
      if (f.size() != header.size()) {
        raw.skipped.push_back(
            {f.empty() ? "" : f[size_t(img) < f.size() ? img : 0], source,
             data::skip_reason::kMalformedRow,
             fmt::format("{} fields, the header has {}", f.size(), header.size())});
        continue;
      }
      data::RawPost p;
      p.post_id = trim(f[img]);
      std::string t = trim(f[tweet]), v = trim(f[ocr]);
      p.text = v.empty() ? t : t + " " + v;
      std::string g = trim(f[gt]);
      p.label = (g.size() == 1 && g[0] >= '0' && g[0] <= '3') ? raw.class_names[g[0] - '0']
                                                              : "label " + g;
      p.split = split_name;
      p.image = "Data/Images/" + p.post_id + ".jpg";
      p.source = source;
      raw.posts.push_back(std::move(p));
    }
  }
  return raw;
}

}  // namespace mmaux::preprocessing
