// MMBT and its ResNet beyond the golden outputs (test_hf_golden.cpp): masks, the paper's ITM
// quirk, the BatchNorm passes each mode makes, save -> load, pooling grids, bad input.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <filesystem>

#include "mmaux/core/error.h"
#include "mmaux/model/mmbt.h"
#include "mmaux/model/multimodal.h"
#include "mmaux/model/resnet.h"
#include "model_test_util.h"
#include "support/test_support.h"

namespace mmaux::model {
namespace {

using testing::max_diff;
namespace fs = std::filesystem;

constexpr int64_t kCls = 101, kSep = 102;

/// b framed rows [CLS] w.. [SEP] pad..: row i has length - 2 - i word pieces.
ModelInput framed_input(int64_t b, int64_t length, int64_t side, int64_t vocab) {
  ModelInput in;
  in.input_ids = at::zeros({b, length}, at::kLong);
  in.attention_mask = at::zeros({b, length}, at::kLong);
  for (int64_t i = 0; i < b; ++i) {
    const int64_t words = length - 2 - i;
    in.input_ids[i][0] = kCls;
    in.input_ids[i].narrow(0, 1, words).copy_(at::randint(1000, vocab, {words}, at::kLong));
    in.input_ids[i][words + 1] = kSep;
    in.attention_mask[i].narrow(0, 0, words + 2).fill_(1);
  }
  in.pixels = at::randn({b, 3, side, side});
  in.pixel_mask = at::ones({b, side, side}, at::kLong);
  return in;
}

std::shared_ptr<MmbtModel> tiny_mmbt(MmbtMode mode, uint64_t seed = 5) {
  at::manual_seed(seed);
  ModelOptions o = testing::tiny_options("mmbt");
  o.mmbt_mode = mode;
  auto m = std::dynamic_pointer_cast<MmbtModel>(make_model(o, 3));
  EXPECT_TRUE(m);
  return m;
}

int64_t batches_tracked(MmbtModel& m) {
  return m.resnet().named_buffers()["bn1.num_batches_tracked"].item<int64_t>();
}

TEST(Mmbt, PaddedTextChangesNothing) {
  auto m = tiny_mmbt(MmbtMode::kFixed);
  m->eval();
  m->to(at::kDouble);
  at::NoGradGuard no_grad;
  ModelInput in = framed_input(3, 9, 40, 30522);
  ModelInput padded = in;
  padded.input_ids = at::cat({in.input_ids, at::full({3, 4}, 7, at::kLong)}, 1);
  padded.attention_mask = at::cat({in.attention_mask, at::zeros({3, 4}, at::kLong)}, 1);
  Encoded a = m->encode(in), b = m->encode(padded);
  EXPECT_LE(max_diff(a.fused, b.fused), 1e-12);
  EXPECT_LE(max_diff(a.itc_text, b.itc_text), 1e-12);
  EXPECT_LE(max_diff(a.itc_image, b.itc_image), 1e-12);
  // A real token does change the output (the comparison above can fail).
  ModelInput changed = in;
  changed.input_ids = in.input_ids.clone();
  changed.input_ids[0][1] = 2000;
  EXPECT_GT(max_diff(m->encode(changed).fused.select(0, 0), a.fused.select(0, 0)), 1e-6);
}

TEST(Mmbt, PaperItmHeadSeesTheMatchedPooledOutput) {
  auto m = tiny_mmbt(MmbtMode::kPaper);
  m->train();
  ModelInput in = framed_input(4, 8, 32, 30522);
  const int64_t before = batches_tracked(*m);
  Encoded enc = m->encode(in);
  // The paper's ITC runs a second ResNet pass: two BatchNorm updates per encode().
  EXPECT_EQ(batches_tracked(*m) - before, 2);
  ModelInput pairs = in;  // every text swapped with the next row's
  at::Tensor rows = at::tensor({1, 2, 3, 0}, at::kLong);
  pairs.input_ids = in.input_ids.index_select(0, rows);
  pairs.attention_mask = in.attention_mask.index_select(0, rows);
  at::Tensor logits = m->itm_logits(pairs, enc.image_cache);
  // The third pass ran (it moved the statistics) ...
  EXPECT_EQ(batches_tracked(*m) - before, 3);
  // ... but the head read the matched pooled output, before dropout.
  auto p = m->named_parameters();
  at::Tensor expected = at::linear(enc.fused, p["itm_head.weight"], p["itm_head.bias"]);
  EXPECT_TRUE(at::equal(logits, expected));
  // Gradients reach the matched pass through the head, none through the discarded pass.
  logits.sum().backward();
  EXPECT_TRUE(p["itm_head.weight"].grad().defined());
}

TEST(Mmbt, FixedItmHeadSeesThePairsAndReusesTheResNetPass) {
  auto m = tiny_mmbt(MmbtMode::kFixed);
  m->train();
  ModelInput in = framed_input(4, 8, 32, 30522);
  const int64_t before = batches_tracked(*m);
  Encoded enc = m->encode(in);
  EXPECT_EQ(batches_tracked(*m) - before, 1);  // ITC reuses the first ResNet pass
  ModelInput pairs = in;
  at::Tensor rows = at::tensor({1, 2, 3, 0}, at::kLong);
  pairs.input_ids = in.input_ids.index_select(0, rows);
  pairs.attention_mask = in.attention_mask.index_select(0, rows);
  m->eval();  // no dropout: the comparison below is exact up to rounding
  at::NoGradGuard no_grad;
  enc = m->encode(in);
  auto p = m->named_parameters();
  at::Tensor matched = at::linear(enc.fused, p["itm_head.weight"], p["itm_head.bias"]);
  at::Tensor reused = m->itm_logits(pairs, enc.image_cache);
  at::Tensor recomputed = m->itm_logits(pairs, at::Tensor());
  EXPECT_LE(max_diff(reused, recomputed), 1e-5);
  EXPECT_GT(max_diff(reused, matched), 1e-4);
  // need_itc = false skips the ITC passes.
  in.need_itc = false;
  Encoded lean = m->encode(in);
  EXPECT_FALSE(lean.itc_text.defined());
  EXPECT_FALSE(lean.itc_image.defined());
  EXPECT_TRUE(at::equal(lean.fused, enc.fused));
}

TEST(Mmbt, PaperModeNeedsTheMatchedOutputForItm) {
  auto m = tiny_mmbt(MmbtMode::kPaper);
  ModelInput in = framed_input(2, 6, 32, 30522);
  EXPECT_THROW(m->itm_logits(in, at::Tensor()), ConfigError);
}

TEST(Mmbt, SaveLoadIsBitIdenticalIncludingBatchNormStatistics) {
  auto m = tiny_mmbt(MmbtMode::kFixed);
  m->train();
  ModelInput in = framed_input(3, 7, 32, 30522);
  m->encode(in);  // moves the running statistics away from their initial values
  mmaux::testing::TempDir dir;
  save_pretrained(*m, dir.path().string());
  ModelOptions o = testing::tiny_options("mmbt");
  o.dir = dir.path().string();
  auto loaded = make_model(o, 3);
  auto a = m->named_parameters(), b = loaded->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) EXPECT_TRUE(at::equal(item.value(), b[item.key()])) << item.key();
  auto ba = m->named_buffers(), bb = loaded->named_buffers();
  ASSERT_EQ(ba.size(), bb.size());
  ASSERT_GT(ba.size(), 0u);
  for (const auto& item : ba) {
    EXPECT_TRUE(at::equal(item.value(), bb[item.key()])) << item.key();
    EXPECT_EQ(item.value().scalar_type(), bb[item.key()].scalar_type()) << item.key();
  }
  EXPECT_EQ(bb["modal_encoder.encoder.bn1.num_batches_tracked"].item<int64_t>(), 1);
  m->eval();
  loaded->eval();
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::equal(m->encode(in).fused, loaded->encode(in).fused));
}

TEST(Mmbt, DoubleKeepsTheBatchCounterInteger) {
  auto m = tiny_mmbt(MmbtMode::kFixed);
  m->to(at::kDouble);
  for (const auto& b : m->named_buffers()) {
    const bool counter = b.key().find("num_batches_tracked") != std::string::npos;
    EXPECT_EQ(b.value().scalar_type(), counter ? at::kLong : at::kDouble) << b.key();
  }
}

TEST(Mmbt, RowsWithoutTheirFrameAreRejected) {
  auto m = tiny_mmbt(MmbtMode::kFixed);
  ModelInput in = framed_input(2, 6, 32, 30522);
  in.attention_mask[1].zero_();
  in.attention_mask[1][0] = 1;
  EXPECT_THROW(m->encode(in), Error);
}

TEST(ResNet, PoolingGridsAreTheMmImdbTable) {
  const std::pair<int64_t, int64_t> want[] = {{1, 1}, {2, 1}, {3, 1}, {2, 2}, {5, 1},
                                              {3, 2}, {7, 1}, {4, 2}, {3, 3}};
  for (int64_t n = 1; n <= 9; ++n) EXPECT_EQ(pooling_grid(n), want[n - 1]) << n;
  EXPECT_THROW(pooling_grid(0), ConfigError);
  EXPECT_THROW(pooling_grid(10), ConfigError);
  at::Tensor map = at::randn({2, 8, 4, 4});
  EXPECT_EQ(ResNet::pool(map, 6).sizes(), (std::vector<int64_t>{2, 6, 8}));
}

TEST(ResNet, StandardDepthsAndTheirParameterCounts) {
  // torchvision's ResNet-152 without fc: 60,192,808 - 2,049,000 parameters.
  ResNet r152(resnet_config(152));
  EXPECT_EQ(count_parameters(r152), 58143808);
  EXPECT_EQ(resnet_config(50).layers, (std::vector<int64_t>{3, 4, 6, 3}));
  EXPECT_THROW(resnet_config(34), ConfigError);
  // timm's config.json names the architecture.
  ResNetConfig timm =
      parse_resnet_config(R"({"architecture": "resnet152.tv_in1k", "num_classes": 1000})", "t");
  EXPECT_EQ(timm.layers, (std::vector<int64_t>{3, 8, 36, 3}));
  EXPECT_THROW(parse_resnet_config(R"({"architecture": "vit"})", "t"), DataError);
  EXPECT_THROW(parse_resnet_config(R"({"layers": [1, 1, 1], "planes": [1, 1, 1, 1]})", "t"),
               DataError);
}

TEST(ResNet, FrozenBatchNormUsesTheRunningStatistics) {
  at::manual_seed(1);
  ResNetConfig c;
  c.layers = {1, 1, 1, 1};
  c.stem_width = 4;
  c.planes = {2, 2, 4, 4};
  ResNet r(c);
  at::Tensor x = at::randn({3, 3, 32, 32});
  r.eval();
  at::NoGradGuard no_grad;
  at::Tensor eval_out = r.forward(x);
  r.train();
  r.freeze_batch_norm(true);
  EXPECT_TRUE(at::equal(r.forward(x), eval_out));
  EXPECT_EQ(r.named_buffers()["bn1.num_batches_tracked"].item<int64_t>(), 0);
  r.freeze_batch_norm(false);
  EXPECT_FALSE(at::equal(r.forward(x), eval_out));
  EXPECT_EQ(r.named_buffers()["bn1.num_batches_tracked"].item<int64_t>(), 1);
}

}  // namespace
}  // namespace mmaux::model
