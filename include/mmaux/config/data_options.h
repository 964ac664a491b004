#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "mmaux/config/enum_names.h"

namespace mmaux {

/// `mmaux preprocess --dataset`: the layout of the raw files (one reader per data set).
enum class DatasetKind { kTir, kMvsa, kMhp, kMsd, kMicd, kCsv };
template <>
struct EnumNames<DatasetKind> {
  static constexpr EnumName<DatasetKind> table[] = {
      {DatasetKind::kTir, "tir"}, {DatasetKind::kMvsa, "mvsa"}, {DatasetKind::kMhp, "mhp"},
      {DatasetKind::kMsd, "msd"}, {DatasetKind::kMicd, "micd"}, {DatasetKind::kCsv, "csv"}};
};
/// [data] section: where the preprocessed shards are and how batches are drawn.
struct DataOptions {
  std::string dir;           ///< directory holding manifest.json and the shards
  int batch_size = 16;       ///< global batch size (split across ranks)
  int eval_batch_size = 64;  ///< global batch size for evaluation
  bool drop_last = true;     ///< drop the last incomplete training batch
  int prefetch = 4;          ///< batches prepared ahead
  int loader_threads = 1;    ///< background decoding threads per rank
};

/// Options of `mmaux synth`.
struct SynthOptions {
  std::string out;  ///< output directory
  int posts = 2000;
  int unlabeled = 0;  ///< also write this many unlabeled posts to OUT/unlabeled
  unsigned seed = 1;
  int image_size = 64;                         ///< width of the images drawn
  int image_height = 0;                        ///< height (0 = image_size: square)
  int threads = 0;                             ///< image-writing threads (0 = all cores)
  double png_fraction = 0.3;                   ///< share of images written as PNG (the rest JPEG)
  std::string class_balance = "";              ///< comma-separated class weights ("" = uniform)
  std::string relation_mix = "0.4,0.3,0.3";    ///< describes,loose,unrelated
  std::string decided_by_mix = "0.3,0.3,0.4";  ///< text,image,both
  double label_noise = 0.05;
  /// > 0: also write OUT/regions.h5, synthetic region features of this many dimensions.
  int region_feature_dim = 0;
};

/// Options of `mmaux preprocess`.
struct PreprocessOptions {
  std::optional<DatasetKind> dataset;  ///< tir | mvsa | mhp | msd | micd | csv (required)
  std::string raw;                     ///< directory of the raw files as distributed
  std::string out;                     ///< output directory for shards, manifest and skip report
  std::string model;                   ///< model directory (tokenizer files, config.json)
  std::string image_preset = "";       ///< "" = from the model directory's config
  std::string csv_file = "posts.csv";  ///< csv layout: file name under --raw
  std::string image_template = "images/{post_id}.jpg";  ///< csv layout: image path template
  std::string classes = "";  ///< csv layout: the label set "a,b,c" ("" = inferred from labels)
  unsigned seed = 42;        ///< seed of random splits
  std::string split_fractions = "0.8,0.1,0.1";
  int shard_size = 1024;  ///< posts per shard
  int threads = 0;        ///< 0 = all cores (under mpirun/srun: cores / ranks on the node)
  double max_skip_fraction = 0.05;
  int64_t max_image_pixels = 89478485;          ///< PIL's limit; 0 = none
  int64_t max_image_bytes = int64_t(64) << 20;  ///< image file size limit; 0 = none
  bool force = false;
  /// Region features to store with each post ("" = none): an HDF5 file or the paper scripts'
  /// directory of torch.save files (data/regions.h), or "grid": the 6×6 pooled layer4 map of the
  /// ResNet in region_grid_model (not the paper's features).
  std::string region_features = "";
  std::string region_grid_model = "";  ///< "grid": a ResNet directory (config.json + weights)
};
}  // namespace mmaux
