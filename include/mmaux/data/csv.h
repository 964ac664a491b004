#pragma once
/// A small, lenient CSV reader/writer for the raw data sets (RFC 4180 plus what real files do).
///
/// Quoted fields may hold separators, newlines and doubled quotes. A quote inside an unquoted
/// field is kept literally (`He said "hi"` stays as is); text after a closing quote is appended
/// to the field. A UTF-8 byte order mark at the start is dropped; \r\n and \n both end records.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mmaux::data {

struct CsvRecord {
  std::vector<std::string> fields;
  int64_t line = 0;  ///< 1-based line where the record starts
};

std::vector<CsvRecord> parse_csv(std::string_view content, char separator = ',');

/// One record, quoting fields that need it, ending with "\n".
std::string csv_row(const std::vector<std::string>& fields, char separator = ',');

/// Reads a whole file; throws DataError naming it when it cannot be read.
std::string read_whole_file(const std::string& path);

}  // namespace mmaux::data
