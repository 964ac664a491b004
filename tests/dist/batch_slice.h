#pragma once
// A rank's slice of a global batch, as the loader gives it (the distributed equivalence tests of
// every model).

#include <ATen/ATen.h>

#include <utility>
#include <vector>

#include "mmaux/data/batch.h"

namespace mmaux::testing {

/// Rows [offset, offset + b) of the global batch: what the loader gives that rank.
inline data::Batch slice(const data::Batch& g, int64_t offset, int64_t b) {
  data::Batch s;
  for (auto [to, from] : {std::pair{&s.input_ids, &g.input_ids},
                          {&s.attention_mask, &g.attention_mask},
                          {&s.pixels, &g.pixels},
                          {&s.pixel_mask, &g.pixel_mask},
                          {&s.labels, &g.labels},
                          {&s.relation, &g.relation},
                          {&s.global_row, &g.global_row},
                          {&s.sample_index, &g.sample_index}})
    *to = from->narrow(0, offset, b).clone();
  for (auto [to, from] : {std::pair{&s.region_features, &g.region_features},
                          {&s.region_boxes, &g.region_boxes},
                          {&s.region_mask, &g.region_mask}})
    if (from->defined()) *to = from->narrow(0, offset, b).clone();
  s.post_ids.assign(g.post_ids.begin() + offset, g.post_ids.begin() + offset + b);
  s.global_batch_size = g.global_batch_size;
  s.row_offset = offset;
  return s;
}

/// This rank's share of the k micro-batches of global batch g (g.global_batch_size rows, divisible
/// by k·w): micro-batch j is rows [j·N/k, (j+1)·N/k), of which rank r holds the r-th slice, with
/// the global rows and offsets the loader gives it (numbered within the micro-batch).
inline std::vector<data::Batch> micro_batches(const data::Batch& g, int k, int w, int rank) {
  const int64_t per_micro = g.global_batch_size / k, b = per_micro / w;
  std::vector<data::Batch> out;
  for (int j = 0; j < k; ++j) {
    data::Batch s = slice(g, j * per_micro + rank * b, b);
    s.global_batch_size = per_micro;
    s.row_offset = rank * b;
    s.global_row = at::arange(rank * b, rank * b + b, at::kLong);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace mmaux::testing
