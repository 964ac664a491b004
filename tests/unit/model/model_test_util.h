#pragma once
// Helpers shared by the model tests: option structs and random inputs.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "mmaux/config/model_options.h"
#include "mmaux/model/multimodal.h"

namespace mmaux::model::testing {

/// The tiny preset of model `name` (ber-vit-concat | ber-vit-att | vilt | lxmert).
inline ModelOptions tiny_options(const std::string& name) {
  ModelOptions o;
  o.name = parse_option<ModelKind>("model.name", name);
  o.preset = ModelPreset::kTiny;
  return o;
}

/// b rows of text length `length` (the last `pad` tokens of row 0 are padding), images of
/// size h × w, and kRegions regions of 2048-d features with boxes (the last one of row 0 padding).
inline ModelInput random_input(int64_t b, int64_t length, int64_t h, int64_t w, int64_t vocab,
                               int64_t pad = 3) {
  ModelInput in;
  in.input_ids = at::randint(1, vocab, {b, length}, at::kLong);
  in.attention_mask = at::ones({b, length}, at::kLong);
  in.attention_mask[0].narrow(0, length - pad, pad).fill_(0);
  in.input_ids[0].narrow(0, length - pad, pad).fill_(0);
  in.pixels = at::randn({b, 3, h, w});
  in.pixel_mask = at::ones({b, h, w}, at::kLong);
  constexpr int64_t kRegions = 5;
  in.region_features = at::rand({b, kRegions, 2048});
  at::Tensor corner = at::rand({b, kRegions, 2}) * 0.5;
  in.region_boxes = at::cat({corner, corner + at::rand({b, kRegions, 2}) * 0.5}, 2);
  in.region_mask = at::ones({b, kRegions}, at::kLong);
  in.region_mask[0][kRegions - 1] = 0;
  return in;
}

/// Largest absolute difference.
inline double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

/// Two float64 computations of the same value that differ only in summation order: equal to
/// 1e-12 of the larger magnitude (float64 rounding is ~1e-16 relative; any real difference in
/// what is computed is many orders larger).
inline ::testing::AssertionResult equal_up_to_rounding(const at::Tensor& got,
                                                       const at::Tensor& want) {
  if (got.scalar_type() != at::kDouble || want.scalar_type() != at::kDouble)
    return ::testing::AssertionFailure() << "compare float64 tensors";
  if (got.sizes() != want.sizes())
    return ::testing::AssertionFailure() << "shapes " << got.sizes() << " vs " << want.sizes();
  const double scale = std::max(got.abs().max().item<double>(), want.abs().max().item<double>());
  if (at::allclose(got, want, /*rtol=*/0, /*atol=*/1e-12 * scale))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "largest difference " << max_diff(got, want) << " at magnitude " << scale;
}

}  // namespace mmaux::model::testing
