#pragma once
/// Streaming, distributed loader over the HDF5 shards of one split.
///
/// Order. For epoch e the split's sample indices 0..N-1 are permuted by a generator seeded with
/// (seed, e) (identity when shuffle is off). The permutation does not depend on the world size.
/// Global batch k is permutation[k·B, min((k+1)·B, N)). With drop_last the last incomplete global
/// batch is dropped (training); without it the last batch is smaller (evaluation).
///
/// Shares. Each rank takes a contiguous share of every global batch: with n rows and W ranks,
/// ranks r < n mod W hold ⌊n/W⌋ + 1 rows and the others ⌊n/W⌋, in rank order. So 1 rank and W
/// ranks see exactly the same global batches, and every sample is seen exactly once per epoch
/// across ranks (without drop_last). Shares may be unequal and may be 0 rows (a last evaluation
/// batch smaller than the world size): next() then still returns a Batch with size() == 0 and
/// the global fields filled, so every rank makes the same number of steps and can join the
/// same collectives (evaluation gathers predictions; a rank with 0 rows contributes none).
///
/// Prefetch. `threads` background workers read and normalise batches `prefetch` steps ahead
/// (prefetch = 0: everything happens inside next()). Output does not depend on prefetch/threads.
///
/// Resume. cursor() is the position of the batch the next call to next() returns;
/// start_epoch(cursor.epoch, cursor.step) continues exactly there without reading earlier batches.
///
/// Not collective: ranks never communicate; they agree because the order is a pure function of
/// (seed, epoch, global batch size).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mmaux/data/batch.h"
#include "mmaux/data/manifest.h"

namespace mmaux::data {

struct LoaderOptions {
  std::string split = "train";     ///< "train", "validation" or "test"
  int64_t global_batch_size = 16;  ///< rows per global batch, across all ranks
  bool drop_last = true;           ///< drop the last incomplete global batch
  bool shuffle = true;             ///< permute per (seed, epoch); false: file order
  uint64_t seed = 0;
  int prefetch = 4;  ///< batches prepared ahead (0 = synchronous)
  int threads = 1;   ///< background workers (used when prefetch > 0)
  int rank = 0;
  int world_size = 1;
};

/// Position in the stream: the next batch returned is step `step` of epoch `epoch`.
struct Cursor {
  int64_t epoch = 0;
  int64_t step = 0;
  bool operator==(const Cursor& o) const { return epoch == o.epoch && step == o.step; }
};

class Loader {
 public:
  /// Opens the split's shards (the manifest should have been loaded with verification). Throws
  /// ConfigError for an unknown split, a batch size < 1 or a rank outside [0, world_size).
  /// Positioned at epoch 0, step 0.
  Loader(const Manifest& manifest, const LoaderOptions& options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// Global batches per epoch: ⌊N/B⌋ with drop_last, ⌈N/B⌉ without.
  int64_t steps_per_epoch() const;
  /// Samples in the split.
  int64_t split_size() const;
  const LoaderOptions& options() const { return options_; }
  const Manifest& manifest() const { return manifest_; }

  /// Positions the stream at (epoch, step), 0 ≤ step ≤ steps_per_epoch(); cancels prefetched
  /// batches. Nothing before `step` is read.
  void start_epoch(int64_t epoch, int64_t step = 0);

  /// This rank's share of the next global batch, or nullopt at the end of the epoch (then call
  /// start_epoch(epoch + 1)). Rethrows a DataError from a background worker.
  std::optional<Batch> next();

  /// The position of the batch the next call to next() returns.
  Cursor cursor() const { return cursor_; }

  /// The epoch's order of sample indices (a pure function of its arguments).
  static std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);
  /// (row offset, rows) of `rank`'s share of a global batch of `rows` rows.
  static std::pair<int64_t, int64_t> rank_share(int64_t rows, int rank, int world_size);

 private:
  class Impl;
  Manifest manifest_;
  LoaderOptions options_;
  Cursor cursor_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mmaux::data
