#pragma once
/// HDF5 shard files: one split's samples in files of a configurable number of rows.
///
/// Layout of one shard (every per-sample array has the sample as its first dimension):
///   input_ids    int32 [n, L]            token ids padded with the pad id
///   lengths      int32 [n]               attention length (real tokens)
///   pixels       uint8 [n, 3·P]          RGB, channel-first [3, h, w], packed at the start of the
///                                        row; P = ImagePreset::storage_pixels() ≥ h·w
///   image_hw     int32 [n, 2]            the image's height h and width w
///   labels       int32 [n]
///   relation     int32 [n]               -1 when the data set has no relation annotation
///   sample_index int64 [n]               index inside the split
///   post_ids     string [n]
///   meta/<name>  string [n]              free metadata columns (e.g. decided_by)
/// and, only in shards written with region features (attributes region_max R and region_dim F):
///   region_features float32 [n, R·F]     rows 0 .. k−1 of each sample's regions, the rest 0
///   region_boxes    float32 [n, R·4]     normalised (x1, y1, x2, y2), 0 for padding
///   region_mask     uint8 [n, R]         1 = real region
/// Shards without them are those of earlier builds, unchanged.
/// Pixels (and region features) are chunked one sample per chunk, uncompressed, so reading a sample
/// touches exactly one chunk and can bypass HDF5 (a positioned read at the chunk's address, see
/// ShardReader). The small columns are chunked by 256 rows and read whole when a reader opens.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mmaux/data/manifest.h"
#include "mmaux/data/regions.h"

namespace mmaux::data {

/// One preprocessed post.
struct Sample {
  std::string post_id;
  std::vector<int32_t> input_ids;  ///< exactly the shard's text length L
  int32_t length = 0;              ///< real tokens (attention mask ones)
  std::vector<uint8_t> pixels;     ///< [3, height, width] channel-first
  int32_t height = 0;
  int32_t width = 0;
  int32_t label = 0;
  int32_t relation = -1;
  int64_t sample_index = 0;
  std::vector<std::string> meta;  ///< values of the writer's meta columns, in order
  RegionFeatures regions;         ///< for a writer with region_dim > 0 (count ≤ kMaxRegions)
};

/// Writes one shard. Not thread-safe; one writer per file.
class ShardWriter {
 public:
  /// Creates `path` (truncating). Throws DataError naming the path on failure. `region_dim` > 0:
  /// every sample carries up to kMaxRegions regions of that many features.
  ShardWriter(const std::string& path, int text_length, const ImagePreset& preset,
              std::vector<std::string> meta_names, int region_dim = 0);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  /// Appends a sample; its image must fit the preset (h ≤ storage_height, w ≤ storage_width,
  /// h · w ≤ storage_pixels).
  void append(const Sample& sample);
  int64_t rows() const;
  /// Writes the columns, closes the file and returns its size and (when `checksum`) SHA-256
  /// (split left empty).
  ShardInfo finish(bool checksum = true);

 private:
  void append_regions(const RegionFeatures& regions);
  class Impl;
  std::unique_ptr<Impl> impl_;
};

/// Rewrites the sample_index column of the shard at `path`, written with indices 0 .. rows − 1,
/// to first, first + 1, ...: ranks that write parts of one split learn where their shards start
/// only after every rank has written. The file keeps its size and layout (its checksum changes).
void rebase_sample_index(const std::string& path, int64_t first);

/// Reads one shard. Every count its headers declare is checked against the file's size before
/// it sizes an allocation, so a corrupt or hostile shard is a DataError, not a huge allocation.
/// After construction, read_pixels() is safe to call from several threads.
class ShardReader {
 public:
  /// Opens `path` and reads the small columns. Throws DataError naming the file when it is not a
  /// readable shard. `direct_reads` = false reads pixels through HDF5 (as it does anyway for
  /// chunks that are filtered) instead of positioned reads at the chunk addresses.
  explicit ShardReader(const std::string& path, bool direct_reads = true);
  ~ShardReader();
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;

  int64_t rows() const;
  int text_length() const;
  /// Capacity of one pixel row in bytes (3 · P).
  int64_t pixel_row_bytes() const;
  const std::vector<int32_t>& input_ids() const;  ///< [rows * L]
  const std::vector<int32_t>& lengths() const;
  const std::vector<int32_t>& image_hw() const;  ///< [rows * 2]
  const std::vector<int32_t>& labels() const;
  const std::vector<int32_t>& relation() const;
  const std::vector<int64_t>& sample_index() const;
  const std::vector<std::string>& post_ids() const;
  /// A meta column by name (throws DataError when absent).
  std::vector<std::string> meta(const std::string& name) const;
  std::vector<std::string> meta_names() const;
  /// Copies the first `bytes` bytes of row `row`'s pixels (3 · h · w for its image) into `out`.
  /// Thread-safe.
  void read_pixels(int64_t row, uint8_t* out, int64_t bytes) const;

  /// Whether the shard holds region features; then R = region_max(), F = region_dim().
  bool has_regions() const;
  int region_max() const;
  int region_dim() const;
  const std::vector<float>& region_boxes() const;   ///< [rows * R * 4]
  const std::vector<uint8_t>& region_mask() const;  ///< [rows * R]
  /// Copies row `row`'s R · F region features into `out`. Thread-safe.
  void read_region_features(int64_t row, float* out) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mmaux::data
