#pragma once
// Region feature sources for `mmaux preprocess --region-features` (see mmaux/data/regions.h):
// the HDF5 file of data_core and the paper scripts' directory of per-post torch.save files,
// read with the model area's restricted torch.save reader (never a general unpickler).
#include <memory>
#include <string>

#include "mmaux/data/preprocess.h"
#include "mmaux/data/regions.h"

namespace mmaux::preprocessing {

/// Largest per-post torch.save file read (36 × 2048 float64 values and the archive around them
/// fit well below): a larger one is "invalid region features", not read.
inline constexpr uint64_t kMaxRegionFileBytes = uint64_t(8) << 20;

/// The paper scripts' layout (models/obj_features.py of the reference code): DIR/features/feat_{id}
/// holds roi_features [1, n, F] and DIR/boxes/nbox_{id} normalized_boxes [1, n, 4] (or without
/// the leading 1), each written by torch.save(tensor, path), n ≤ 36, any floating dtype
/// (converted to float32). Throws DataError when DIR lacks features/ or boxes/.
std::unique_ptr<data::RegionSource> open_region_torch_dir(const std::string& dir);

/// The grid variant (not the paper's features): each post's image (the raw data set's path for
/// the post) resized to 224 × 224 (fixed:224), normalised with ImageNet's mean and std, through
/// the ResNet of `resnet_dir` (model::load_resnet: config.json and weights, strict) to its layer4
/// map, average-pooled adaptively to 6 × 6 cells: 36 regions, row-major, F = the ResNet's
/// num_features (2048 for ResNet-50/101/152; another visual_feat_dim is a DataError), each box
/// the cell (c/6, r/6, (c+1)/6, (r+1)/6). Off-distribution for LXMERT's pretrained visn_fc.
std::unique_ptr<data::RegionSource> open_region_grid(const data::RawDataset& raw,
                                                     const std::string& resnet_dir);

/// `--region-features SPEC`: "" = none (null); "grid" = open_region_grid(raw, grid_model) (a
/// grid_model is required); a directory = open_region_torch_dir; a file = data::open_region_h5.
/// Throws ConfigError or DataError naming SPEC.
std::unique_ptr<data::RegionSource> open_region_source(const std::string& spec,
                                                       const data::RawDataset& raw,
                                                       const std::string& grid_model = "");

}  // namespace mmaux::preprocessing
