#pragma once
/// One rank's share of a global batch, as the loader yields it and the trainer consumes it.
///
/// Contract between the data, model, loss and train areas. All tensors are on the CPU; the
/// trainer moves them to the device.

#include <ATen/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mmaux::data {

struct Batch {
  at::Tensor input_ids;       ///< int64 [b, L] token ids, padded with the tokenizer's pad id
  at::Tensor attention_mask;  ///< int64 [b, L] 1 = real token, 0 = padding
  at::Tensor pixels;          ///< float32 [b, 3, H, W] normalised per the image preset
  at::Tensor pixel_mask;      ///< int64 [b, H, W] 1 = real pixel (all ones for fixed sizes)
  at::Tensor labels;          ///< int64 [b] class index
  at::Tensor relation;        ///< int64 [b] image-text relation id, -1 when the data set has none
  /// int64 [b] position of each row inside the global batch (0 .. global_batch-1). Rank r holds
  /// rows [offset, offset + b) where offset = sum of the sizes held by ranks < r.
  at::Tensor global_row;
  /// int64 [b] stable sample index inside the split (identifies the post; duplicate detection).
  at::Tensor sample_index;
  /// Region features, when the data set has them (Manifest::has_regions), else undefined:
  at::Tensor region_features;  ///< float32 [b, R, F] (R = 36), zero for padding regions
  at::Tensor region_boxes;     ///< float32 [b, R, 4] normalised (x1, y1, x2, y2), zero padding
  at::Tensor region_mask;      ///< int64 [b, R] 1 = real region
  std::vector<std::string> post_ids;
  int64_t global_batch_size = 0;  ///< rows of the global batch across all ranks
  int64_t row_offset = 0;         ///< global row of this rank's first row

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

}  // namespace mmaux::data
