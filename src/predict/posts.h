#pragma once
// Private: the rows of a predict input (csv with the csv reader's columns, or JSON Lines), read in
// input order a chunk at a time, so that a pipe streams.

#include <cstddef>
#include <fstream>
#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "mmaux/core/csv.h"

namespace mmaux::predict {

/// One input row.
struct InputPost {
  std::string post_id;
  std::string text;
  std::string image;   ///< path as given (relative paths start at the image root)
  std::string source;  ///< "file:line"
  std::string error;   ///< "" = a readable row; else why not ("malformed row: ...")
};

/// "csv" or "jsonl" for `format` ("auto": by the path's extension; "-" is jsonl).
std::string input_format(const std::string& path, const std::string& format);

class PostSource {
 public:
  /// Opens `path` ("-" = standard input). csv: a header with post_id and text (and image; without
  /// it, `image_template` with {post_id} replaced); other columns are ignored. Throws DataError
  /// naming the file when it cannot be read or lacks those columns.
  PostSource(const std::string& path, const std::string& format, std::string image_template);

  /// Appends up to `n` rows to `out`; returns how many (0 at the end of the input).
  size_t read(size_t n, std::vector<InputPost>& out);
  const std::string& format() const { return format_; }

 private:
  InputPost from_record(const CsvRecord& r) const;
  InputPost from_json_line(const std::string& line, int64_t number) const;

  std::string name_, format_, image_template_;
  std::unique_ptr<std::ifstream> file_;
  std::istream* in_ = nullptr;
  int64_t line_ = 0;
  // csv: the records, parsed at once (quoted fields may span lines).
  std::vector<CsvRecord> records_;
  size_t next_record_ = 1;
  int id_col_ = -1, text_col_ = -1, image_col_ = -1;
};

}  // namespace mmaux::predict
