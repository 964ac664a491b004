#pragma once
// Region feature sources for `mmaux preprocess --region-features` (see mmaux/data/regions.h):
// the HDF5 file of data_core and the paper scripts' directory of per-post torch.save files,
// read with the model area's restricted torch.save reader (never a general unpickler).
#include <memory>
#include <string>

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

/// `--region-features SPEC`: "" = none (null); a directory = open_region_torch_dir; a file =
/// data::open_region_h5. Throws ConfigError or DataError naming SPEC.
std::unique_ptr<data::RegionSource> open_region_source(const std::string& spec);

}  // namespace mmaux::preprocessing
