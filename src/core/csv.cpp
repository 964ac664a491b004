#include "mmaux/core/csv.h"

namespace mmaux {

std::vector<CsvRecord> parse_csv(std::string_view s, const CsvDialect& dialect) {
  const char sep = dialect.separator;
  if (s.size() >= 3 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
  std::vector<CsvRecord> out;
  CsvRecord rec;
  std::string field;
  int64_t line = 1;
  rec.line = 1;
  bool in_quotes = false, field_started = false, quoted = false;
  auto end_field = [&] {
    rec.fields.push_back(std::move(field));
    field.clear();
    field_started = quoted = false;
  };
  auto end_record = [&] {
    // A blank line is no record; a line holding only "" is a record of one empty field.
    const bool blank = rec.fields.empty() && field.empty() && !quoted;
    end_field();
    if (!blank) out.push_back(std::move(rec));
    rec = CsvRecord();
    rec.line = line;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_quotes) {
      if (dialect.backslash_escapes && c == '\\' && i + 1 < s.size() &&
          (s[i + 1] == '"' || s[i + 1] == '\\')) {
        field.push_back(s[++i]);
      } else if (c == '"') {
        if (i + 1 < s.size() && s[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == sep) {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      ++line;
      end_record();
    } else if (c == '"' && !field_started) {
      in_quotes = quoted = field_started = true;
    } else {
      field.push_back(c);
      field_started = true;
    }
  }
  if (field_started || !rec.fields.empty()) end_record();
  return out;
}

std::string csv_quote(std::string_view field, char sep) {
  const char special[] = {'"', '\r', '\n', sep, '\0'};
  if (field.find_first_of(special) == std::string_view::npos) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string csv_row(const std::vector<std::string>& fields, char sep) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(sep);
    out += csv_quote(fields[i], sep);
  }
  // A lone empty field is written as "" so that the record is not read back as a blank line.
  if (fields.size() == 1 && fields[0].empty()) out = "\"\"";
  out.push_back('\n');
  return out;
}

}  // namespace mmaux
