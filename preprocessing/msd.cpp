// MSD (Cai et al. 2019): text/train.txt lines ['id', 'text', label]; text/valid2.txt and
// text/test2.txt lines ['id', 'text', hashtag_label, label] (the last is used). Training rows with
// one of the filter words are removed as in the data set's own code (its loadData.py: the text's
// Python str.split() words, compared whole); images dataset_image/{id}.jpg.
#include <filesystem>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/strings.h"
#include "readers.h"

namespace fs = std::filesystem;

namespace mmaux::preprocessing {
namespace {

constexpr const char* kFilter[] = {"exgag",  "sarcasm", "sarcastic", "reposting", "<url>", "joke",
                                   "humour", "humor",   "jokes",     "irony",     "ironic"};

// The first filter word among the text's words (Python's str.split(): any Unicode whitespace,
// so "<3\n<url>" holds the word "<url>"), or null.
const char* filter_word(const std::string& text) {
  const std::vector<std::string> words = python_split(text);
  for (const char* k : kFilter) {
    for (const auto& w : words) {
      if (w == k) return k;
    }
  }
  return nullptr;
}

}  // namespace

void parse_msd_file(std::string_view content, const MsdFile& file, data::RawDataset& raw) {
  const auto lines = split(content, '\n');
  std::vector<std::string> items;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string line = trim(lines[i]);
    if (line.empty()) continue;
    const std::string source = fmt::format("text/{}:{}", file.name, i + 1);
    if (!parse_python_list(line, items) || items.size() != file.arity) {
      raw.skipped.push_back({items.empty() ? "" : items[0], source,
                             data::skip_reason::kMalformedRow,
                             fmt::format("expected a Python list of {} items", file.arity)});
      continue;
    }
    data::RawPost p;
    p.post_id = trim(items[0]);
    p.text = items[1];
    p.source = source;
    const std::string label = trim(items.back());
    p.label = label == "0"   ? raw.class_names.at(0)
              : label == "1" ? raw.class_names.at(1)
                             : "label " + label;
    p.split = file.split;
    p.image = "dataset_image/" + p.post_id + ".jpg";
    if (file.keyword_filter) {
      if (const char* hit = filter_word(p.text)) {
        raw.filtered.push_back({p.post_id, source, data::filter_reason::kKeywordFilter,
                                fmt::format("training text contains the word '{}'", hit)});
        continue;
      }
    }
    raw.posts.push_back(std::move(p));
  }
}

data::RawDataset read_msd(const PreprocessOptions& o) {
  require_file(o.raw, "text/train.txt", "MSD", "text/{train,valid2,test2}.txt and dataset_image/");
  data::RawDataset raw;
  raw.name = "msd";
  raw.raw_dir = o.raw;
  raw.class_names = {"not sarcastic", "sarcastic"};
  for (const MsdFile& file : kMsdFiles) {
    fs::path path = fs::path(o.raw) / "text" / file.name;
    parse_msd_file(read_whole_file(path.string()), file, raw);
  }
  raw.notes.push_back(
      "training rows containing exgag, sarcasm, sarcastic, reposting, <url>, joke, humour, humor, "
      "jokes, irony or ironic (as whole words of Python's str.split()) are filtered, as in the "
      "data set's own code");
  return raw;
}

}  // namespace mmaux::preprocessing
