#include "readers.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "mmaux/core/error.h"
#include "mmaux/core/strings.h"

namespace mmaux::preprocessing {

data::RawDataset read_raw_dataset(const PreprocessOptions& o) {
  MMAUX_CHECK_CONFIG(o.dataset.has_value(), "option 'dataset' is required; expected one of {}",
                     fmt::join(enum_names<DatasetKind>(), ", "));
  switch (*o.dataset) {
    case DatasetKind::kCsv:
      return read_csv_dataset(o);
    case DatasetKind::kTir:
      return read_tir(o);
    case DatasetKind::kMvsa:
      return read_mvsa(o);
    case DatasetKind::kMhp:
      return read_mhp(o);
    case DatasetKind::kMsd:
      return read_msd(o);
    case DatasetKind::kMicd:
      return read_micd(o);
  }
  MMAUX_THROW(InternalError, "dataset kind {} has no reader (a bug)", static_cast<int>(*o.dataset));
}

void require_file(const std::string& raw, const std::string& file, const std::string& dataset,
                  const std::string& layout) {
  auto path = std::filesystem::path(raw) / file;
  MMAUX_CHECK_DATA(std::filesystem::is_regular_file(path),
                   "'{}' not found: --raw '{}' should be the {} directory as distributed ({}); "
                   "see the Data section of the README",
                   path.string(), raw, dataset, layout);
}

std::vector<std::string> lower_header(const std::vector<std::string>& fields) {
  std::vector<std::string> out;
  for (auto f : fields) {
    f = trim(f);
    for (auto& c : f) c = char(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(f);
  }
  return out;
}

int column_index(const std::vector<std::string>& header, const std::string& name) {
  auto it = std::find(header.begin(), header.end(), name);
  return it == header.end() ? -1 : int(it - header.begin());
}

bool parse_python_list(const std::string& line, std::vector<std::string>& items) {
  items.clear();
  size_t i = 0;
  auto skip_space = [&] {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
  };
  skip_space();
  if (i >= line.size() || line[i] != '[') return false;
  ++i;
  for (;;) {
    skip_space();
    if (i >= line.size()) return false;
    if (line[i] == ']') return true;
    if (line[i] == '\'' || line[i] == '"') {
      char q = line[i++];
      std::string s;
      while (i < line.size() && line[i] != q) {
        if (line[i] == '\\' && i + 1 < line.size()) {
          char e = line[++i];
          s.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
        } else {
          s.push_back(line[i]);
        }
        ++i;
      }
      if (i >= line.size()) return false;
      ++i;
      items.push_back(s);
    } else {
      size_t start = i;
      while (i < line.size() && line[i] != ',' && line[i] != ']') ++i;
      std::string tok = trim(line.substr(start, i - start));
      if (tok.empty()) return false;
      items.push_back(tok);
    }
    skip_space();
    if (i < line.size() && line[i] == ',') {
      ++i;
    } else if (i < line.size() && line[i] == ']') {
      return true;
    } else {
      return false;
    }
  }
}

}  // namespace mmaux::preprocessing
