#pragma once
// Private to the data area: steps 2-4 of run_preprocess (mmaux/data/preprocess.h), the plan that
// cuts each split into shard units, the per-rank worker that writes a run of units, and the
// byte format in which ranks exchange what they wrote.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mmaux/config/data_options.h"
#include "mmaux/data/image.h"
#include "mmaux/data/manifest.h"
#include "mmaux/data/preprocess.h"
#include "mmaux/data/tokenizer.h"

namespace mmaux::data::detail {

/// What every step needs: the model directory's text length and image preset, the tokenizer,
/// the image limits, and the class and relation ids.
struct Context {
  const PreprocessOptions* options = nullptr;
  const RawDataset* raw = nullptr;
  int max_length = 0;
  std::unique_ptr<Tokenizer> tokenizer;
  ImagePreset preset;
  ImageLimits limits;
  std::map<std::string, int> class_id, relation_id;
  const RegionSource* regions = nullptr;  ///< null: no region features
  int region_dim = 0;                     ///< F when regions is set, else 0
};

Context make_context(const PreprocessOptions& options, const RawDataset& raw,
                     const RegionSource* regions);

/// A post the pipeline did not write, with its index in RawDataset::posts (the order of the
/// skip report).
struct IndexedSkip {
  size_t index = 0;
  SkipRecord record;
};

/// The posts of one shard: unit k of a split holds the split's planned posts k·S .. (k+1)·S − 1
/// (S = shard size), in input order.
struct Unit {
  std::string split;
  int k = 0;
  std::vector<size_t> posts;  ///< indices into RawDataset::posts
  std::string file() const;   ///< "{split}-{k:05d}.h5"
};

/// Step 2's output; the same on every rank.
struct Plan {
  std::vector<IndexedSkip> skipped;  ///< duplicate ids, unknown labels, bad splits and paths
  std::vector<std::string> splits;   ///< by post index; "" = not planned (skipped)
  std::vector<Unit> units;           ///< train units, then validation, then test
  bool used_random_split = false;
};

Plan plan_posts(const Context& ctx, const std::vector<double>& fractions);

/// The units [first, last) of `rank` among `size` ranks: contiguous runs of about equal numbers
/// of planned posts.
std::pair<size_t, size_t> rank_units(const Plan& plan, int rank, int size);

/// What one unit's shard holds once written (rows = 0: no file was written).
struct UnitResult {
  size_t unit = 0;
  int64_t rows = 0;
  std::vector<int64_t> class_counts;
  std::vector<int64_t> relation_counts;
  /// SHA-256 of the unit's stored region features in row order ("" without regions).
  std::string region_digest;
};

/// A digest of the plan (every unit's post ids and the options that shape it): equal on every
/// rank unless the ranks read different raw files.
std::string plan_digest(const RawDataset& raw, const Plan& plan);

/// What one rank wrote.
struct RankResult {
  std::string plan_digest;  ///< plan_digest() of the plan it followed
  std::vector<UnitResult> units;
  std::vector<IndexedSkip> skipped;
  int64_t utf8_repaired = 0;
  int64_t truncated = 0;
};

/// Step 3 for units [first, last): processes their posts on the options' worker threads and
/// writes one shard per unit with at least one post, sample indices counted from 0 in each.
RankResult write_units(const Context& ctx, const Plan& plan, size_t first, size_t last);

/// Byte forms for PreprocessRanks::all_gather (any bytes in strings survive).
std::string encode(const RankResult& result);
RankResult decode_rank_result(const std::string& bytes);
std::string encode(const std::vector<ShardInfo>& shards);
std::vector<ShardInfo> decode_shards(const std::string& bytes);

}  // namespace mmaux::data::detail
