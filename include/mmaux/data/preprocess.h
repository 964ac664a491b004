#pragma once
/// The preprocessing pipeline shared by every raw-data-set reader: validate, normalise and
/// tokenise texts, decode and resize images, write per-split HDF5 shards, the manifest and the
/// skip report; on one process or on several ranks (mpirun / srun) that share the work.
///
/// Every post read ends in exactly one of three outcomes: written; filtered (a rule of the data
/// set removes it, e.g. MSD's keyword filter or MVSA's conflicting labels: not data loss); or
/// skipped (it could not be used: missing or broken image, bad row, unknown label, ...). So
/// read = written + filtered + skipped, and only skipped posts count towards max_skip_fraction.
///
/// Steps of run_preprocess (ranks: every step is collective unless it says "rank 0"):
///   1. Rank 0 fingerprints the inputs (options, tokenizer, image preset and limits, every post
///      and its image file's size and time); if OUT/manifest.json carries the same fingerprint
///      and its shards verify, the run is a no-op (unless force); otherwise it removes the old
///      shards and manifest. Every rank learns the decision.
///   2. Every rank plans the same way, in input order: reject duplicate ids, unknown labels and
///      image paths escaping the raw directory; assign splits (the data set's own, else a seeded
///      hash of the post id). Each split's planned posts, in input order, are cut into units of
///      shard_size posts: unit k of a split becomes the shard {split}-{k:05d}.h5.
///   3. Units are dealt to ranks in contiguous runs of about equal post counts. Each rank's
///      workers repair or reject invalid UTF-8, normalise and tokenise texts, and decode images;
///      its writer writes the posts of each of its units that were not skipped, in input order,
///      to that unit's shard (a unit whose posts were all skipped writes no file).
///   4. The ranks exchange what they wrote (and a digest of their plans: ranks that read different
///      raw files fail); each rank sets its shards' sample_index to the position in the split (the
///      posts written by earlier units come first) and checksums them.
///   5. Rank 0 writes skipped.csv (filtered and skipped posts), splits.csv and report.json; fails
///      with a DataError when skipped / (read − filtered) > max_skip_fraction (no manifest then);
///      otherwise writes manifest.json last, so a half-written output never looks complete.
/// Shard boundaries depend on the plan, not on which posts fail to decode, nor on the number of
/// ranks or threads: any number of ranks writes byte-identical shards and the same manifest.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mmaux/config/data_options.h"
#include "mmaux/data/regions.h"

namespace mmaux::data {

/// Skip reasons, as written in the report.
namespace skip_reason {
inline constexpr const char* kMissingImage = "missing image";
inline constexpr const char* kImageTooLarge = "image too large";
inline constexpr const char* kUndecodableImage = "undecodable image";
inline constexpr const char* kEmptyText = "empty text";
inline constexpr const char* kUnknownLabel = "unknown label";
inline constexpr const char* kDuplicateId = "duplicate id";
inline constexpr const char* kPathEscapes = "path escapes data directory";
inline constexpr const char* kInvalidUtf8 = "invalid UTF-8";
inline constexpr const char* kMalformedRow = "malformed row";
inline constexpr const char* kMissingRegions = "missing region features";
inline constexpr const char* kInvalidRegions = "invalid region features";
}  // namespace skip_reason

/// Rules of a data set that remove posts (reported as "filtered", never counted as data loss).
namespace filter_reason {
inline constexpr const char* kConflictingLabels = "conflicting labels";
inline constexpr const char* kKeywordFilter = "keyword filter";
}  // namespace filter_reason

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

/// A post that was not written: skipped (one of skip_reason) or filtered (one of filter_reason).
struct SkipRecord {
  std::string post_id;
  std::string source;
  std::string reason;
  std::string detail;
};

/// What a reader returns: posts to process, rows it already had to skip, and rows a rule of the
/// data set removes.
struct RawDataset {
  std::string name;
  std::string raw_dir;
  /// False: posts without labels (RawPost::label ignored, no classes); the shards store label -1
  /// and the manifest says "labelled": false.
  bool labelled = true;
  std::vector<std::string> class_names;     ///< class id order
  std::vector<std::string> relation_names;  ///< may be empty
  std::vector<std::string> meta_names;
  std::vector<RawPost> posts;
  std::vector<SkipRecord> skipped;
  std::vector<SkipRecord> filtered;   ///< removed by a rule of the data set (filter_reason)
  std::vector<std::string> notes;     ///< reader remarks for the report (e.g. keyword list used)
  std::vector<std::string> warnings;  ///< logged by rank 0 and kept in the report
};

struct PreprocessReport {
  bool up_to_date = false;  ///< nothing was done: the output matched the inputs
  int64_t read = 0;
  int64_t written = 0;
  int64_t filtered = 0;
  int64_t skipped = 0;
  int64_t utf8_repaired = 0;  ///< written posts whose text had invalid bytes replaced
  int64_t truncated = 0;      ///< written posts whose text was cut to the max length
  std::map<std::string, int64_t> filtered_by_reason;
  std::map<std::string, int64_t> skipped_by_reason;
  std::map<std::string, int64_t> written_by_split;
  double seconds = 0;
  /// Human-readable summary ("read 1500 = written 1480 + filtered 10 (keyword filter 10) +
  /// skipped 10 (missing image 6, ...)").
  std::string summary() const;
};

/// The ranks that preprocess one data set together. mmaux preprocess under mpirun or srun
/// implements it over the job's communicator; a null pointer means one process.
class PreprocessRanks {
 public:
  virtual ~PreprocessRanks() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Every rank's `bytes`, in rank order, on every rank. Collective.
  virtual std::vector<std::string> all_gather(const std::string& bytes) = 0;
};

/// Runs steps 1-5 above for an already-read data set (every rank passes the same data set and
/// options). Collective over `ranks` (null = this process alone). Every rank returns the same
/// report; only rank 0 writes the reports and the manifest, and only rank 0 throws the
/// max_skip_fraction DataError.
///
/// `regions` (may be null; the same source on every rank): each post's region features, with
/// F = the model directory's config.json visual_feat_dim (else 2048), are read and validated in
/// step 3 (a post without usable ones is skipped as "missing region features" or "invalid
/// region features", with the detail) and stored in the shards; step 1 fingerprints the source
/// and the manifest records RegionInfo, whose fingerprint digests the stored values.
PreprocessReport run_preprocess(const PreprocessOptions& options, RawDataset raw,
                                PreprocessRanks* ranks = nullptr,
                                const RegionSource* regions = nullptr);

/// Deterministic split for a post without one: hash(seed, post id) against the fractions.
std::string random_split(const std::string& post_id, uint64_t seed,
                         const std::vector<double>& fractions);
/// Parses "0.8,0.1,0.1" (three non-negative numbers with a positive sum).
std::vector<double> parse_split_fractions(const std::string& text);

}  // namespace mmaux::data
