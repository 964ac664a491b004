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

namespace {

// A code point as UTF-8; false for a surrogate or a value beyond U+10FFFF (Python would keep a
// lone surrogate in a str, but it has no UTF-8 form).
bool append_code_point(std::string& out, uint32_t cp) {
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp <= 0x10FFFF) {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    return false;
  }
  return true;
}

// `digits` hexadecimal digits at line[i..]; false when they are not all there.
bool hex_value(std::string_view line, size_t i, int digits, uint32_t* value) {
  if (i + size_t(digits) > line.size()) return false;
  *value = 0;
  for (int k = 0; k < digits; ++k) {
    const char c = line[i + size_t(k)];
    const int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                  : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                  : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                              : -1;
    if (d < 0) return false;
    *value = *value * 16 + uint32_t(d);
  }
  return true;
}

// One escape sequence of a Python 3 str literal starting at line[i] == '\\'; appends its value
// and advances i past it. False for a malformed escape (Python's SyntaxError) or one without a
// UTF-8 value.
bool python_escape(std::string_view line, size_t& i, std::string& out) {
  if (i + 1 >= line.size()) return false;
  const char e = line[i + 1];
  static const std::string_view kSimple = "\\'\"abfnrtv";
  static const char kValue[] = {'\\', '\'', '"', '\a', '\b', '\f', '\n', '\r', '\t', '\v'};
  if (auto k = kSimple.find(e); k != std::string_view::npos) {
    out.push_back(kValue[k]);
    i += 2;
    return true;
  }
  if (e >= '0' && e <= '7') {  // up to three octal digits
    uint32_t v = 0;
    size_t j = i + 1;
    for (; j < line.size() && j < i + 4 && line[j] >= '0' && line[j] <= '7'; ++j) {
      v = v * 8 + uint32_t(line[j] - '0');
    }
    i = j;
    return append_code_point(out, v);
  }
  const int digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
  if (digits == 0) {  // not an escape: Python keeps the backslash
    out.push_back('\\');
    i += 1;
    return true;
  }
  uint32_t v = 0;
  if (!hex_value(line, i + 2, digits, &v)) return false;
  i += 2 + size_t(digits);
  return append_code_point(out, v);
}

}  // namespace

bool parse_python_list(std::string_view line, std::vector<std::string>& items) {
  items.clear();
  size_t i = 0;
  auto skip_space = [&] {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
  };
  // After the closing bracket only whitespace may follow.
  auto closed = [&] {
    ++i;
    skip_space();
    return i == line.size();
  };
  skip_space();
  if (i >= line.size() || line[i] != '[') return false;
  ++i;
  for (;;) {
    skip_space();
    if (i >= line.size()) return false;
    if (line[i] == ']' && items.empty()) return closed();
    if (line[i] == '\'' || line[i] == '"') {
      const char q = line[i++];
      std::string s;
      while (i < line.size() && line[i] != q) {
        if (line[i] == '\\') {
          if (!python_escape(line, i, s)) return false;
        } else {
          s.push_back(line[i++]);
        }
      }
      if (i >= line.size()) return false;
      ++i;
      items.push_back(std::move(s));
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
      skip_space();
      if (i < line.size() && line[i] == ']') return closed();  // a trailing comma, as Python allows
    } else if (i < line.size() && line[i] == ']') {
      return closed();
    } else {
      return false;
    }
  }
}

namespace {

// The length of the whitespace character at text[i] by Python 3's str.isspace() (ASCII \t \n
// \v \f \r, the separators \x1c-\x1f, space, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
// U+2029, U+202F, U+205F, U+3000), or 0.
size_t python_space_at(std::string_view t, size_t i) {
  const auto b = [&](size_t k) { return i + k < t.size() ? uint8_t(t[i + k]) : 0; };
  const uint8_t c = b(0);
  if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) return 1;
  if (c == 0xC2 && (b(1) == 0x85 || b(1) == 0xA0)) return 2;
  if (c == 0xE1 && b(1) == 0x9A && b(2) == 0x80) return 3;
  if (c == 0xE2 && b(1) == 0x80 &&
      ((b(2) >= 0x80 && b(2) <= 0x8A) || b(2) == 0xA8 || b(2) == 0xA9 || b(2) == 0xAF)) {
    return 3;
  }
  if (c == 0xE2 && b(1) == 0x81 && b(2) == 0x9F) return 3;
  if (c == 0xE3 && b(1) == 0x80 && b(2) == 0x80) return 3;
  return 0;
}

}  // namespace

std::vector<std::string> python_split(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0, start = std::string_view::npos;
  while (i < text.size()) {
    const size_t n = python_space_at(text, i);
    if (n > 0) {
      if (start != std::string_view::npos) words.emplace_back(text.substr(start, i - start));
      start = std::string_view::npos;
      i += n;
    } else {
      if (start == std::string_view::npos) start = i;
      ++i;
    }
  }
  if (start != std::string_view::npos) words.emplace_back(text.substr(start));
  return words;
}

}  // namespace mmaux::preprocessing
