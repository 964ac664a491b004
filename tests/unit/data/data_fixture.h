#pragma once
// A small data set written with the real shard writer: sample i of a split has label i % 3,
// token ids [i+5, i+6, ...] and pixel value (i * 7) % 256 in channel 0, so a test can tell every
// sample apart after loading.
#include <map>
#include <string>

#include "mmaux/data/manifest.h"
#include "mmaux/data/regions.h"

namespace mmaux::testing {

/// Writes shards of `shard_size` rows and manifest.json into `dir`; returns the manifest.
/// `region_dim` > 0: sample i also has fixture_regions(i, region_dim).
data::Manifest write_fixture_dataset(const std::string& dir,
                                     const std::map<std::string, int>& split_sizes, int shard_size,
                                     const std::string& preset = "fixed:8", int region_dim = 0);

/// Sample i's regions: (5 i) mod 37 of them, feature k of region q = i + q / 100 + k / 10000,
/// box q = (q/40, 0.5, q/40 + 0.01, 1).
data::RegionFeatures fixture_regions(int i, int region_dim);

}  // namespace mmaux::testing
