#pragma once
// A rank's slice of a global batch, as the loader gives it (the distributed equivalence tests of
// every model).

#include <ATen/ATen.h>

#include <utility>

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

}  // namespace mmaux::testing
