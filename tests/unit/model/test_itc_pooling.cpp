// model.itc-pooling: the ITC vectors of each pooling against a manual computation from the towers'
// outputs (masked positions picked one by one, not through masked_mean), on tiny models with
// padded text and padded patches; mmbt and lxmert refuse what they do not support.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "mmaux/core/error.h"
#include "mmaux/model/dual_stream.h"
#include "mmaux/model/vilt.h"
#include "model_test_util.h"
#include "support/test_support.h"

namespace mmaux::model {
namespace {
using testing::equal_up_to_rounding;
using testing::max_diff;
using testing::random_input;
using testing::tiny_options;

// Row i's mean of states[i][k] over the k with mask[i][k] == 1, position by position.
at::Tensor mean_of_real(const at::Tensor& states, const at::Tensor& mask) {
  std::vector<at::Tensor> rows;
  for (int64_t i = 0; i < states.size(0); ++i) {
    at::Tensor sum = at::zeros({states.size(2)}, states.options());
    int64_t n = 0;
    for (int64_t k = 0; k < states.size(1); ++k) {
      if (mask[i][k].item<int64_t>() == 0) continue;
      sum += states[i][k];
      ++n;
    }
    rows.push_back(sum / static_cast<double>(n));
  }
  return at::stack(rows);
}

// Image mask: the CLS token, then a patch is real when its top-left pixel is.
at::Tensor patch_token_mask(const at::Tensor& pixel_mask, int64_t p) {
  const int64_t b = pixel_mask.size(0), gh = pixel_mask.size(1) / p, gw = pixel_mask.size(2) / p;
  at::Tensor m = at::ones({b, 1 + gh * gw}, at::kLong);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t y = 0; y < gh; ++y)
      for (int64_t x = 0; x < gw; ++x) m[i][1 + y * gw + x] = pixel_mask[i][y * p][x * p];
  return m;
}

ModelInput padded_input() {
  at::manual_seed(21);
  ModelInput in = random_input(3, 9, 64, 64, 500, 4);
  in.pixel_mask[1].narrow(1, 32, 32).fill_(0);  // row 1: the right half is padding
  in.pixels[1].narrow(2, 32, 32).fill_(0);
  return in;
}

TEST(ItcPooling, DualStreamVectorsAreTheDocumentedSources) {
  const ModelInput in = padded_input();
  for (const char* kind : {"ber-vit-concat", "ber-vit-att"}) {
    std::map<ItcPooling, at::Tensor> seen;
    for (ItcPooling pooling : {ItcPooling::kPooler, ItcPooling::kCls, ItcPooling::kMean}) {
      SCOPED_TRACE(std::string(kind) + " " + name_of(pooling));
      ModelOptions o = tiny_options(kind);
      o.itc_pooling = pooling;
      at::manual_seed(4);
      auto m = std::dynamic_pointer_cast<DualStreamModel>(make_model(o, 3));
      // In float64, so that the only difference left between the model's projection and the
      // manual one is the rounding of a different summation order (~1e-16 relative).
      m->to(at::kDouble);
      m->eval();
      at::NoGradGuard no_grad;
      ModelInput in64 = in;
      in64.pixels = in.pixels.to(at::kDouble);
      Encoded e = m->encode(in64);
      EncoderOutput t = m->text().forward(in64.input_ids, in64.attention_mask);
      EncoderOutput v = m->image().forward(in64.pixels, in64.pixel_mask);
      at::Tensor text = t.pooled, image = v.pooled;
      if (pooling == ItcPooling::kCls) {
        text = t.last_hidden_state.select(1, 0);
        image = v.last_hidden_state.select(1, 0);
      } else if (pooling == ItcPooling::kMean) {
        text = mean_of_real(t.last_hidden_state, in.attention_mask);
        image = mean_of_real(v.last_hidden_state, patch_token_mask(in.pixel_mask, 16));
      }
      auto params = m->named_parameters();
      EXPECT_TRUE(
          equal_up_to_rounding(e.itc_text, text.matmul(params["text_projection.weight"].t())));
      EXPECT_TRUE(
          equal_up_to_rounding(e.itc_image, image.matmul(params["image_projection.weight"].t())));
      seen[pooling] = at::cat({e.itc_text, e.itc_image}, 1);
    }
    // Three different sources (same weights: same seed).
    EXPECT_GT(max_diff(seen[ItcPooling::kPooler], seen[ItcPooling::kCls]), 1e-3);
    EXPECT_GT(max_diff(seen[ItcPooling::kCls], seen[ItcPooling::kMean]), 1e-3);
  }
}

TEST(ItcPooling, ViltMeanAveragesEachBlock) {
  const ModelInput in = padded_input();
  ModelOptions o = tiny_options("vilt");
  at::manual_seed(4);
  auto cls = std::dynamic_pointer_cast<ViltModel>(make_model(o, 3));
  o.itc_pooling = ItcPooling::kMean;
  at::manual_seed(4);
  auto mean = std::dynamic_pointer_cast<ViltModel>(make_model(o, 3));
  cls->eval();
  mean->eval();
  at::NoGradGuard no_grad;
  ViltBackbone::Output out =
      mean->backbone().forward(in.input_ids, in.attention_mask, in.pixels, in.pixel_mask, {});
  const int64_t l = out.text_length;
  Encoded e = mean->encode(in);
  EXPECT_LT(
      max_diff(e.itc_text, mean_of_real(out.last_hidden_state.narrow(1, 0, l), in.attention_mask)),
      1e-5);
  at::Tensor image_states = out.last_hidden_state.narrow(1, l, out.last_hidden_state.size(1) - l);
  EXPECT_LT(max_diff(e.itc_image, mean_of_real(image_states, patch_token_mask(in.pixel_mask, 16))),
            1e-5);
  // pooler (the default) keeps ViLT's first state of each block.
  Encoded c = cls->encode(in);
  EXPECT_LT(max_diff(c.itc_text, out.last_hidden_state.select(1, 0)), 1e-6);
  EXPECT_LT(max_diff(c.itc_image, out.last_hidden_state.select(1, l)), 1e-6);
}

TEST(ItcPooling, MmbtAndLxmertAcceptOnlyTheirOwnSource) {
  for (const char* kind : {"mmbt", "lxmert"}) {
    ModelOptions o = tiny_options(kind);
    EXPECT_NO_THROW(make_model(o, 3));
    for (ItcPooling pooling : {ItcPooling::kCls, ItcPooling::kMean}) {
      o.itc_pooling = pooling;
      std::string msg = mmaux::testing::message_of<ConfigError>([&] { make_model(o, 3); });
      EXPECT_NE(msg.find("model.itc-pooling"), std::string::npos) << msg;
      EXPECT_NE(msg.find(kind), std::string::npos) << msg;
      EXPECT_NE(msg.find("ber-vit-concat"), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace mmaux::model
