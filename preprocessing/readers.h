#pragma once
// Raw-data-set readers, one file per data set. Each turns the files as their authors distribute
// them into a RawDataset (posts + rows it had to skip, with reasons); the shared pipeline
// (mmaux/data/preprocess.h) does the rest. Readers only read text files; they never decode images.
#include <string>
#include <string_view>
#include <vector>

#include "mmaux/config/data_options.h"
#include "mmaux/data/preprocess.h"

namespace mmaux::preprocessing {

/// Generic csv layout: columns post_id, text, label, [split], [relation], [decided_by], [image];
/// the image path is the `image` column or options.image_template with {post_id} substituted.
/// Classes are the distinct non-empty labels, sorted by name.
data::RawDataset read_csv_dataset(const PreprocessOptions& options);
/// TIR (Vempala & Preoţiuc-Pietro 2019): textimage-data.csv, images T{tweet_id}.jpg.
data::RawDataset read_tir(const PreprocessOptions& options);
/// MVSA-Single: labelResultAll.txt + data/{id}.txt (Latin-1, first line) + data/{id}.jpg.
data::RawDataset read_mvsa(const PreprocessOptions& options);
/// MHP: Data/{Train,Validation,Test}/dog_whistle_{train,dev,test}.csv + Data/Images/.
data::RawDataset read_mhp(const PreprocessOptions& options);
/// MSD: text/{train,valid2,test2}.txt (Python list lines) + dataset_image/{id}.jpg.
data::RawDataset read_msd(const PreprocessOptions& options);
/// MICD: data_key_mic.csv (id, domain, year, month, label, split) + texts/{id}.txt +
/// images/{id}_1.jpg.
data::RawDataset read_micd(const PreprocessOptions& options);

// The parsers behind the readers, on a file's content (no file system): what the fuzzers
// (bench/data/fuzz_raw_formats.cpp) and their corpus replay test drive.

/// The posts file of the csv layout, named `file_name` in sources: posts, "malformed row"
/// skips, and the classes (options.classes, else the sorted labels found, with a note of their
/// counts and a warning for each class under 1 % of the posts).
data::RawDataset parse_csv_posts(std::string_view content, const std::string& file_name,
                                 const PreprocessOptions& options);

/// One MSD text file.
struct MsdFile {
  const char* name;     ///< under text/
  const char* split;    ///< train, validation or test
  size_t arity;         ///< items per line
  bool keyword_filter;  ///< the training file: the data set's keyword filter applies
};
inline constexpr MsdFile kMsdFiles[] = {{"train.txt", "train", 3, true},
                                        {"valid2.txt", "validation", 4, false},
                                        {"test2.txt", "test", 4, false}};
/// Appends the posts, skips and filtered rows of one MSD file to `raw` (whose class names must be
/// set).
void parse_msd_file(std::string_view content, const MsdFile& file, data::RawDataset& raw);

/// MVSA's labelResultAll.txt: posts with id, label, source and image (texts are read from
/// data/{id}.txt by read_mvsa), malformed rows skipped, positive-against-negative rows filtered.
data::RawDataset parse_mvsa_labels(std::string_view content);

/// Dispatches on options.dataset (tir, mvsa, mhp, msd, micd, csv).
data::RawDataset read_raw_dataset(const PreprocessOptions& options);

/// Parses one Python list literal of strings and integers: ['id', "it 's", 1], as Python 3's
/// eval() reads it: single or double quotes, the escapes \\ \' \" \a \b \f \n \r \t \v, octal,
/// \xhh, \uXXXX and \UXXXXXXXX (as UTF-8), other backslashes kept. Returns false on malformed
/// input (unterminated string, bad escape, missing comma).
bool parse_python_list(std::string_view line, std::vector<std::string>& items);

/// Python 3's str.split() with no argument: the words between runs of Unicode whitespace
/// (str.isspace()), none empty. Bytes that are not valid UTF-8 are never whitespace.
std::vector<std::string> python_split(std::string_view text);

/// Throws DataError when `raw`/`file` is missing, naming the data set's expected layout.
void require_file(const std::string& raw, const std::string& file, const std::string& dataset,
                  const std::string& layout);

/// The lower-cased header names of a CSV record.
std::vector<std::string> lower_header(const std::vector<std::string>& fields);
/// Index of `name` in `header`, or -1.
int column_index(const std::vector<std::string>& header, const std::string& name);

}  // namespace mmaux::preprocessing
