// MSD (Cai et al. 2019): text/train.txt lines ['id', 'text', label]; text/valid2.txt and
// text/test2.txt lines ['id', 'text', hashtag_label, label] (the last is used). Training rows with
// one of the filter words are dropped as in the authors' code; images dataset_image/{id}.jpg.
#include <filesystem>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/strings.h"
#include "readers.h"

namespace fs = std::filesystem;

namespace mmaux::preprocessing {

data::RawDataset read_msd(const PreprocessOptions& o) {
  static const char* kFilter[] = {"exgag",  "sarcasm", "sarcastic", "reposting", "<url>", "joke",
                                  "humour", "humor",   "jokes",     "irony",     "ironic"};
  require_file(o.raw, "text/train.txt", "MSD", "text/{train,valid2,test2}.txt and dataset_image/");
  data::RawDataset raw;
  raw.name = "msd";
  raw.raw_dir = o.raw;
  raw.class_names = {"not sarcastic", "sarcastic"};
  const std::tuple<const char*, const char*, size_t> kFiles[] = {
      {"train.txt", "train", 3}, {"valid2.txt", "validation", 4}, {"test2.txt", "test", 4}};
  for (const auto& [name, split_name, arity] : kFiles) {
    fs::path file = fs::path(o.raw) / "text" / name;
    auto lines = split(read_whole_file(file.string()), '\n');
    std::vector<std::string> items;
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string line = trim(lines[i]);
      if (line.empty()) continue;
      std::string source = fmt::format("text/{}:{}", name, i + 1);
      if (!parse_python_list(line, items) || items.size() != arity) {
        raw.skipped.push_back({items.empty() ? "" : items[0], source,
                               data::skip_reason::kMalformedRow,
                               fmt::format("expected a Python list of {} items", arity)});
        continue;
      }
      data::RawPost p;
      p.post_id = trim(items[0]);
      p.text = items[1];
      p.source = source;
      std::string label = trim(items.back());
      p.label = label == "0"   ? raw.class_names[0]
                : label == "1" ? raw.class_names[1]
                               : "label " + label;
      p.split = split_name;
      p.image = "dataset_image/" + p.post_id + ".jpg";
      if (std::string(split_name) == "train") {
        // Whole words, except <url> which is a token of its own in MSD's texts.
        std::vector<std::string> words = split(p.text, ' ');
        const char* hit = nullptr;
        for (const char* k : kFilter) {
          for (const auto& w : words) {
            if (w == k) hit = k;
          }
        }
        if (hit != nullptr) {
          raw.skipped.push_back({p.post_id, source, data::skip_reason::kKeywordFilter,
                                 fmt::format("training text contains '{}'", hit)});
          continue;
        }
      }
      raw.posts.push_back(std::move(p));
    }
  }
  raw.notes.push_back(
      "training rows containing exgag, sarcasm, sarcastic, reposting, <url>, joke, humour, humor, "
      "jokes, irony or ironic (as whole words) are dropped, as in the authors' code");
  return raw;
}

}  // namespace mmaux::preprocessing
