#pragma once
/// Region features (LXMERT's visual input): per post up to kMaxRegions detected regions, each a
/// feature vector of F floats (F = 2048 for unc-nlp/frcnn-vg-finetuned) and a normalised box
/// (x1, y1, x2, y2) in [0, 1] of the original image (x / width, y / height).
///
/// `mmaux preprocess --region-features SRC` looks each post up in a RegionSource, validates it
/// (validate_regions) and stores it in the shards (shard.h): rows 0 .. n−1 real, the rest zero,
/// with a region mask. Sources read here (no libtorch):
///   - an HDF5 file: /{post_id}/roi_features f32 [n, F] and /{post_id}/normalized_boxes f32 [n, 4]
///     (open_region_h5; RegionFileWriter writes it, e.g. for the synthetic set);
/// and, in preprocessing/region_sources.h (it needs the torch.save reader), the paper scripts'
/// directory of per-post torch.save files. Not collective.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mmaux/core/error.h"

namespace mmaux {
class Sha256;
}

namespace mmaux::data {

/// Regions stored per post (LXMERT's 36 detections).
inline constexpr int kMaxRegions = 36;
/// F when the model directory's config.json has no visual_feat_dim.
inline constexpr int kDefaultRegionFeatureDim = 2048;

/// One post's regions, row-major.
struct RegionFeatures {
  int32_t count = 0;            ///< n real regions, 0 ≤ n ≤ kMaxRegions
  std::vector<float> features;  ///< [n, F]
  std::vector<float> boxes;     ///< [n, 4] x1, y1, x2, y2
};

/// A post whose region features cannot be used; reason() is "missing region features" or
/// "invalid region features" (preprocess.h skip_reason), what() the detail for the skip report.
class RegionError : public DataError {
 public:
  RegionError(std::string reason, const std::string& what) : DataError(what), reason_(reason) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

/// Where posts' region features come from.
class RegionSource {
 public:
  virtual ~RegionSource() = default;
  /// "hdf5", "torch-dir", ... (recorded in the manifest).
  virtual std::string kind() const = 0;
  /// The file or directory read.
  virtual const std::string& path() const = 0;
  /// Adds to `h` what identifies the inputs of read() for these posts without reading them
  /// (paths, sizes, modification times), for the preprocessing up-to-date check.
  virtual void fingerprint(Sha256& h, const std::vector<std::string>& post_ids) const = 0;
  /// The post's regions with F = `feature_dim`, shapes checked (n ≤ kMaxRegions, F columns,
  /// 4 box columns, as many boxes as features) but not values (see validate_regions). Throws
  /// RegionError for a missing post or a wrong shape or type, DataError when the source itself
  /// cannot be read. Thread-safe.
  virtual RegionFeatures read(const std::string& post_id, int feature_dim) const = 0;
};

/// Checks the values of `r` (F = `feature_dim`): every feature and box value finite, boxes in
/// [0, 1] with x1 ≤ x2 and y1 ≤ y2. Throws RegionError("invalid region features") naming
/// `where`, the region and the value.
void validate_regions(const RegionFeatures& r, int feature_dim, const std::string& where);

/// Opens an HDF5 file of the layout above. Throws DataError naming the file when it is missing
/// or not HDF5.
std::unique_ptr<RegionSource> open_region_h5(const std::string& path);

/// Writes the HDF5 layout above, one post at a time (memory: one post). Not thread-safe.
class RegionFileWriter {
 public:
  /// Creates `path` (truncating). Throws DataError naming it on failure.
  explicit RegionFileWriter(const std::string& path);
  ~RegionFileWriter();
  RegionFileWriter(const RegionFileWriter&) = delete;
  RegionFileWriter& operator=(const RegionFileWriter&) = delete;
  /// Adds group /post_id with roi_features [n, F] and normalized_boxes [n, 4].
  void add(const std::string& post_id, const RegionFeatures& r, int feature_dim);
  /// Flushes and closes the file.
  void close();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mmaux::data
