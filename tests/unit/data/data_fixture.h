#pragma once
// A small data set written with the real shard writer: sample i of a split has label i % 3,
// token ids [i+5, i+6, ...] and pixel value (i * 7) % 256 in channel 0, so a test can tell every
// sample apart after loading.
#include <map>
#include <string>

#include "mmaux/data/manifest.h"

namespace mmaux::testing {

/// Writes shards of `shard_size` rows and manifest.json into `dir`; returns the manifest.
data::Manifest write_fixture_dataset(const std::string& dir,
                                     const std::map<std::string, int>& split_sizes, int shard_size,
                                     const std::string& preset = "fixed:8");

}  // namespace mmaux::testing
