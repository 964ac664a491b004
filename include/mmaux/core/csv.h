#pragma once
/// A small, lenient CSV reader and the one CSV writer of mmaux (raw data sets, skip reports,
/// predictions, aggregates): RFC 4180 plus what real files do.
///
/// Quoted fields may hold separators, newlines and doubled quotes. A quote inside an unquoted
/// field is kept literally (`He said "hi"` stays as is); text after a closing quote is appended
/// to the field. A UTF-8 byte order mark at the start is dropped; \r\n, \n and a lone \r end
/// records. A blank line is no record; a line holding only "" is a record of one empty field.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mmaux {

struct CsvRecord {
  std::vector<std::string> fields;
  int64_t line = 0;  ///< 1-based line where the record starts
};

/// How a file quotes, beyond RFC 4180.
struct CsvDialect {
  char separator = ',';
  /// Inside a quoted field, \" is a quote and \\ a backslash (writers that escape quotes
  /// instead of doubling them, as TIR's textimage-data.csv); any other backslash is kept.
  bool backslash_escapes = false;
};

std::vector<CsvRecord> parse_csv(std::string_view content, const CsvDialect& dialect);
inline std::vector<CsvRecord> parse_csv(std::string_view content, char separator = ',') {
  return parse_csv(content, CsvDialect{separator, false});
}

/// `field` as one CSV field: unchanged, or in double quotes (inner quotes doubled) when it holds
/// the separator, a double quote, \r or \n. parse_csv gives the field back exactly.
std::string csv_quote(std::string_view field, char separator = ',');

/// One record: the fields quoted by csv_quote, joined by `separator`, ending with "\n".
std::string csv_row(const std::vector<std::string>& fields, char separator = ',');

}  // namespace mmaux
