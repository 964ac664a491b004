#pragma once
/// The manifest of a preprocessed data set (manifest.json beside the HDF5 shards).
///
/// `mmaux preprocess` writes it; the loader, the trainer (class names, class weights) and the
/// evaluator read it. Not collective: every rank loads its own copy.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mmaux::data {

/// The schema version written by this build; load() rejects other versions.
inline constexpr int kManifestSchemaVersion = 1;

/// How images are resized and stored (see image.h for the resize rules).
struct ImagePreset {
  /// "fixed": every image resized to height × width (ViT 224×224, tiny 64×64).
  /// "vilt": shorter side `shorter`, longer side ≤ `longer_max`, both rounded down to multiples
  /// of `multiple`; each image is stored at its real size (at most storage_pixels() pixels), and
  /// batches are padded to their largest image with a pixel mask.
  /// "resnet": the paper's MMBT transforms: shorter side `shorter` (the longer side scaled and
  /// truncated, torchvision's Resize(int)), then the centre height × width crop (offsets rounded
  /// half to even, torchvision's CenterCrop); normalised with the MM-IMDB per-channel statistics.
  std::string kind = "fixed";
  int height = 224;  ///< fixed: output height; resnet: crop height
  int width = 224;   ///< fixed: output width; resnet: crop width
  int shorter = 384;
  int longer_max = 640;
  int multiple = 32;
  /// Normalisation (x/255 - mean[c]) / std[c] per channel (R, G, B).
  std::array<float, 3> mean = {0.5f, 0.5f, 0.5f};
  std::array<float, 3> std = {0.5f, 0.5f, 0.5f};

  /// Parses "fixed:224", "fixed:64x48", "vilt", "vilt:384:640:32", "resnet" (= resnet:256:224)
  /// or "resnet:SHORTER:CROP"; throws ConfigError.
  static ImagePreset parse(const std::string& text);
  /// The canonical text form, parse(to_string()) == *this.
  std::string to_string() const;
  /// Stable hex digest of every field (changes when preprocessing would change).
  std::string fingerprint() const;
  /// The largest height and width an image can have: height × width for fixed and resnet; for
  /// vilt the rounded longer_max (portrait or landscape).
  int storage_height() const;
  int storage_width() const;
  /// The most pixels an image can have (height · width for fixed and resnet; the rounded
  /// shorter · longer_max for vilt): the capacity of one stored row.
  int64_t storage_pixels() const;
  bool variable_size() const { return kind == "vilt"; }
  /// Whether the resized image is centre-cropped to height × width (resnet).
  bool center_crop() const { return kind == "resnet"; }
};

/// The paper's MMBT normalisation (the Hugging Face mm-imdb example's MM-IMDB statistics).
inline constexpr std::array<float, 3> kMmImdbMean = {0.46777044f, 0.44531429f, 0.40661017f};
inline constexpr std::array<float, 3> kMmImdbStd = {0.12221994f, 0.12145835f, 0.14380469f};

/// One HDF5 shard file of one split.
struct ShardInfo {
  std::string file;    ///< file name relative to the manifest's directory
  std::string split;   ///< "train", "validation" or "test"
  int64_t rows = 0;    ///< samples in the file
  int64_t bytes = 0;   ///< file size
  std::string sha256;  ///< lower-case hex SHA-256 of the whole file
};

/// The region features stored in the shards (absent: region_dim = 0).
struct RegionInfo {
  int max_regions = 0;      ///< R, regions per sample in the shards (kMaxRegions)
  int feature_dim = 0;      ///< F
  std::string source_kind;  ///< "hdf5", "torch-dir", ...
  std::string source;       ///< the file or directory read
  /// SHA-256 of the stored features, boxes and counts of every written post in split order
  /// (independent of the container, shard size and number of ranks).
  std::string fingerprint;
};

/// Counts of one split.
struct SplitInfo {
  int64_t size = 0;
  std::vector<int64_t> class_counts;     ///< indexed by class id
  std::vector<int64_t> relation_counts;  ///< indexed by relation id (empty when no relations)
  std::vector<ShardInfo> shards;         ///< in sample order: sample i of the split is row
                                         ///< i - (rows of earlier shards) of its shard
};

class Manifest {
 public:
  Manifest() = default;

  /// Reads DIR/manifest.json. With `verify_checksums` every shard's size and SHA-256 are checked;
  /// a missing, truncated or altered shard throws DataError naming the file. Throws DataError
  /// for a missing manifest ("run 'mmaux preprocess' first") or a schema mismatch.
  static Manifest load(const std::string& dir, bool verify_checksums = true);

  /// Writes DIR/manifest.json (used by the preprocessor and by tests).
  void save(const std::string& dir) const;

  /// Re-checks every shard against its size and SHA-256; throws DataError naming the first bad one.
  void verify_checksums() const;

  const std::string& dir() const { return dir_; }
  int schema_version() const { return schema_version_; }
  const std::string& dataset() const { return dataset_; }

  /// False for a data set of posts without labels (`mmaux pretrain`, retrieval in `mmaux eval`):
  /// no classes, every shard label -1, empty class counts. Manifests without the field (older
  /// builds) are labelled.
  bool labelled() const { return labelled_; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  int64_t num_classes() const { return static_cast<int64_t>(class_names_.size()); }
  /// Image-text relation names (synthetic: describes, loose, unrelated); may be empty.
  const std::vector<std::string>& relation_names() const { return relation_names_; }

  /// Split names present, in the order train, validation, test.
  std::vector<std::string> split_names() const;
  bool has_split(const std::string& split) const;
  /// Throws ConfigError naming the split and the ones present when it is absent.
  const SplitInfo& split(const std::string& split) const;
  int64_t split_size(const std::string& split) const { return this->split(split).size; }
  /// Samples per class in `split` (balanced class weights: w_c = N / (C · n_c) on "train").
  const std::vector<int64_t>& class_counts(const std::string& split) const {
    return this->split(split).class_counts;
  }

  int64_t text_max_length() const { return text_max_length_; }  ///< L of input_ids
  int64_t pad_id() const { return pad_id_; }
  const ImagePreset& image_preset() const { return image_preset_; }
  const std::string& tokenizer_fingerprint() const { return tokenizer_fingerprint_; }
  const std::string& image_fingerprint() const { return image_fingerprint_; }
  /// Whether the shards hold region features (regions().feature_dim > 0).
  bool has_regions() const { return regions_.feature_dim > 0; }
  const RegionInfo& regions() const { return regions_; }
  /// Seed of the random split (0 when every split came with the data set).
  uint64_t split_seed() const { return split_seed_; }
  /// Digest of the whole content (fingerprints, counts, shard checksums): a checkpoint can
  /// record it and refuse to resume on different data.
  std::string fingerprint() const;

  // Setters for the preprocessor and tests.
  void set_dir(const std::string& dir) { dir_ = dir; }
  void set_dataset(const std::string& name) { dataset_ = name; }
  void set_class_names(std::vector<std::string> names) { class_names_ = std::move(names); }
  void set_labelled(bool labelled) { labelled_ = labelled; }
  void set_relation_names(std::vector<std::string> names) { relation_names_ = std::move(names); }
  void set_text(int64_t max_length, int64_t pad_id, const std::string& tokenizer_fingerprint);
  void set_image_preset(const ImagePreset& preset);
  void set_split_seed(uint64_t seed) { split_seed_ = seed; }
  void set_regions(RegionInfo info) { regions_ = std::move(info); }
  void set_split(const std::string& name, SplitInfo info) { splits_[name] = std::move(info); }
  /// Free-form provenance (source directory, tool version, skip counts) stored as strings.
  std::map<std::string, std::string>& extra() { return extra_; }
  const std::map<std::string, std::string>& extra() const { return extra_; }

 private:
  std::string dir_;
  int schema_version_ = kManifestSchemaVersion;
  std::string dataset_;
  bool labelled_ = true;
  std::vector<std::string> class_names_;
  std::vector<std::string> relation_names_;
  std::map<std::string, SplitInfo> splits_;
  int64_t text_max_length_ = 0;
  int64_t pad_id_ = 0;
  ImagePreset image_preset_;
  std::string tokenizer_fingerprint_;
  std::string image_fingerprint_;
  uint64_t split_seed_ = 0;
  RegionInfo regions_;
  std::map<std::string, std::string> extra_;
};

}  // namespace mmaux::data
