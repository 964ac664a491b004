#pragma once
// The global batches of the distributed equivalence tests (test_equivalence.cpp,
// test_contrastive_accumulation.cpp) for the two-tower model, and a rank's slice of one.

#include <ATen/ATen.h>

#include <string>
#include <utility>

#include "dist/batch_slice.h"
#include "dist/two_tower.h"
#include "mmaux/data/batch.h"

namespace mmaux::testing {

constexpr int64_t kTextLength = 5;

/// The global batch of `step` (n rows), identical on every rank, as the loader would hold it on
/// one rank. Row 0 ends in two padding tokens; with n >= 8, row 5 repeats row 1's text and row 6
/// repeats row 2's image, so that duplicate masking takes part.
inline data::Batch global_batch(int64_t step, int64_t n = 8) {
  at::manual_seed(1000 + step);
  data::Batch g;
  g.input_ids = at::randint(1, kVocab, {n, kTextLength}, at::kLong);
  g.attention_mask = at::ones({n, kTextLength}, at::kLong);
  g.input_ids[0].narrow(0, kTextLength - 2, 2).fill_(0);
  g.attention_mask[0].narrow(0, kTextLength - 2, 2).fill_(0);
  const int64_t side = kImageSide;
  g.pixels = at::randn({n, 3, side, side}, at::kDouble);
  g.pixel_mask = at::ones({n, side, side}, at::kLong);
  g.labels = at::randint(0, 3, {n}, at::kLong);
  g.relation = at::full({n}, -1, at::kLong);
  g.global_row = at::arange(n, at::kLong);
  g.sample_index = at::arange(n, at::kLong);
  for (int64_t i = 0; i < n; ++i) g.post_ids.push_back(std::to_string(i));
  g.global_batch_size = n;
  if (n < 8) return g;
  g.input_ids[5].copy_(g.input_ids[1]);
  g.attention_mask[5].copy_(g.attention_mask[1]);
  g.pixels[6].copy_(g.pixels[2]);
  return g;
}

}  // namespace mmaux::testing
