#pragma once
/// The preprocessing pipeline shared by every raw-data-set reader: validate, normalise and
/// tokenise texts, decode and resize images (all cores), write per-split HDF5 shards, the
/// manifest and the skip report.
///
/// Steps of run_preprocess:
///   1. Fingerprint the inputs (options, tokenizer, image preset, every post and its image file's
///      size and time); if OUT/manifest.json carries the same fingerprint and its shards verify,
///      stop: the run is a no-op (unless force).
///   2. In input order: reject duplicate ids, unknown labels, image paths escaping the raw
///      directory; assign splits (the data set's own, else a seeded hash of the post id).
///   3. Workers (all cores) repair or reject invalid UTF-8, normalise and tokenise the text, and
///      decode the image; the writer takes results in input order, so output is deterministic.
///   4. Write skipped.csv and report.json (read = written + skipped, per reason); fail with a
///      DataError when skipped / read > max_skip_fraction (no manifest is written then);
///      otherwise write manifest.json last, so a half-written output never looks complete.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mmaux/config/data_options.h"

namespace mmaux::data {

/// Skip reasons, as written in the report.
namespace skip_reason {
inline constexpr const char* kMissingImage = "missing image";
inline constexpr const char* kUndecodableImage = "undecodable image";
inline constexpr const char* kEmptyText = "empty text";
inline constexpr const char* kUnknownLabel = "unknown label";
inline constexpr const char* kDuplicateId = "duplicate id";
inline constexpr const char* kPathEscapes = "path escapes data directory";
inline constexpr const char* kInvalidUtf8 = "invalid UTF-8";
inline constexpr const char* kMalformedRow = "malformed row";
inline constexpr const char* kConflictingLabels = "conflicting labels";
inline constexpr const char* kKeywordFilter = "keyword filter";
}  // namespace skip_reason

/// One post as a reader found it.
struct RawPost {
  std::string post_id;
  std::string text;      ///< UTF-8 as far as the reader knows (invalid bytes are handled later)
  std::string label;     ///< class name
  std::string split;     ///< "" = assign a seeded random split
  std::string image;     ///< path relative to the raw directory
  std::string relation;  ///< relation name, "" = none
  std::vector<std::string> meta;  ///< values of RawDataset::meta_names
  std::string source;             ///< "file:line" for the skip report
};

struct SkipRecord {
  std::string post_id;
  std::string source;
  std::string reason;  ///< one of skip_reason
  std::string detail;
};

/// What a reader returns: posts to process and rows it already had to skip.
struct RawDataset {
  std::string name;
  std::string raw_dir;
  std::vector<std::string> class_names;     ///< class id order
  std::vector<std::string> relation_names;  ///< may be empty
  std::vector<std::string> meta_names;
  std::vector<RawPost> posts;
  std::vector<SkipRecord> skipped;
  std::vector<std::string> notes;  ///< reader remarks for the report (e.g. keyword list used)
};

struct PreprocessReport {
  bool up_to_date = false;  ///< nothing was done: the output matched the inputs
  int64_t read = 0;
  int64_t written = 0;
  int64_t skipped = 0;
  int64_t utf8_repaired = 0;  ///< written posts whose text had invalid bytes replaced
  int64_t truncated = 0;      ///< written posts whose text was cut to the max length
  std::map<std::string, int64_t> skipped_by_reason;
  std::map<std::string, int64_t> written_by_split;
  double seconds = 0;
  /// Human-readable summary ("read 1500 = written 1490 + skipped 10 (missing image 6, ...)").
  std::string summary() const;
};

/// Runs steps 1-4 above for an already-read data set.
PreprocessReport run_preprocess(const PreprocessOptions& options, RawDataset raw);

/// Deterministic split for a post without one: hash(seed, post id) against the fractions.
std::string random_split(const std::string& post_id, uint64_t seed,
                         const std::vector<double>& fractions);
/// Parses "0.8,0.1,0.1" (three non-negative numbers with a positive sum).
std::vector<double> parse_split_fractions(const std::string& text);

}  // namespace mmaux::data
