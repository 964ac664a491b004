// Masked-language modelling: BERT's masking (train::mask_tokens) and the Hugging Face MLM head
// (model::MlmHead).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "mmaux/core/error.h"
#include "mmaux/model/mlm_head.h"
#include "mmaux/train/pretrain.h"

namespace mmaux {
namespace {

constexpr int64_t kVocab = 1000;

train::MlmMasking masking() {
  train::MlmMasking m;
  m.mask_id = 4;
  m.vocab_size = kVocab;
  m.special_ids = {0, 1, 2, 3, 4};
  m.prob = 0.15;
  m.seed = 9;
  return m;
}

// [CLS] w.. [SEP] then padding; w >= 5.
std::pair<at::Tensor, at::Tensor> texts(int64_t rows, int64_t length, int64_t real) {
  at::manual_seed(3);
  at::Tensor ids = at::randint(5, kVocab, {rows, length}, at::kLong);
  at::Tensor mask = at::zeros({rows, length}, at::kLong);
  mask.narrow(1, 0, real).fill_(1);
  ids.select(1, 0).fill_(2);
  ids.select(1, real - 1).fill_(3);
  ids.narrow(1, real, length - real).fill_(0);
  return {ids, mask};
}

std::vector<int64_t> rows_from(int64_t first, int64_t n) {
  std::vector<int64_t> r;
  for (int64_t i = 0; i < n; ++i) r.push_back(first + i);
  return r;
}

TEST(MaskTokens, BertProportionsOnRealNonSpecialTokensOnly) {
  auto [ids, mask] = texts(400, 40, 30);
  train::MaskedText m = train::mask_tokens(ids, mask, rows_from(0, 400), 7, masking());
  at::Tensor selected = m.labels.ne(-100);
  // Never the frame tokens nor padding.
  EXPECT_FALSE(selected.select(1, 0).any().item<bool>());
  EXPECT_FALSE(selected.select(1, 29).any().item<bool>());
  EXPECT_FALSE(selected.narrow(1, 30, 10).any().item<bool>());
  EXPECT_TRUE(at::equal(m.input_ids.narrow(1, 30, 10), ids.narrow(1, 30, 10)));
  // Unselected tokens are unchanged; labels hold the original ids.
  EXPECT_TRUE(at::equal(m.input_ids.masked_select(selected.logical_not()),
                        ids.masked_select(selected.logical_not())));
  EXPECT_TRUE(at::equal(m.labels.masked_select(selected), ids.masked_select(selected)));
  const double candidates = 400.0 * 28;
  const double n = static_cast<double>(m.selected);
  EXPECT_EQ(m.selected, selected.sum().item<int64_t>());
  EXPECT_NEAR(n / candidates, 0.15, 0.01);
  at::Tensor now = m.input_ids.masked_select(selected), was = ids.masked_select(selected);
  const double masked = now.eq(4).sum().item<double>() / n;
  const double kept = now.eq(was).sum().item<double>() / n;
  EXPECT_NEAR(masked, 0.8, 0.02);
  EXPECT_NEAR(kept, 0.1 + 0.1 / kVocab, 0.02);
  EXPECT_NEAR(1 - masked - kept, 0.1, 0.02);  // random ids
}

TEST(MaskTokens, PureFunctionOfSeedStepAndGlobalRow) {
  auto [ids, mask] = texts(8, 20, 20);
  train::MaskedText whole = train::mask_tokens(ids, mask, rows_from(0, 8), 3, masking());
  // Rows 4..7 alone, as another rank holds them: the same draws.
  train::MaskedText part =
      train::mask_tokens(ids.narrow(0, 4, 4), mask.narrow(0, 4, 4), rows_from(4, 4), 3, masking());
  EXPECT_TRUE(at::equal(part.input_ids, whole.input_ids.narrow(0, 4, 4)));
  EXPECT_TRUE(at::equal(part.labels, whole.labels.narrow(0, 4, 4)));
  // Another step, another global row or another seed draw differently.
  EXPECT_FALSE(
      at::equal(train::mask_tokens(ids, mask, rows_from(0, 8), 4, masking()).labels, whole.labels));
  EXPECT_FALSE(
      at::equal(train::mask_tokens(ids, mask, rows_from(8, 8), 3, masking()).labels, whole.labels));
  train::MlmMasking other = masking();
  other.seed = 10;
  EXPECT_FALSE(
      at::equal(train::mask_tokens(ids, mask, rows_from(0, 8), 3, other).labels, whole.labels));
}

TEST(MaskTokens, NoMaskTokenIsAConfigError) {
  auto [ids, mask] = texts(2, 8, 8);
  train::MlmMasking m = masking();
  m.mask_id = -1;
  EXPECT_THROW(train::mask_tokens(ids, mask, rows_from(0, 2), 0, m), ConfigError);
}

TEST(MlmHead, TiedDecoderAndHuggingFaceKeys) {
  model::TextConfig c;
  c.vocab_size = 30;
  c.hidden_size = 8;
  at::manual_seed(1);
  at::Tensor words = at::randn({30, 8});
  model::MlmHead head(c, words);
  std::vector<std::string> keys;
  for (const auto& [k, t] : head.hf_tensors()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"cls.predictions.bias",
                                            "cls.predictions.transform.dense.weight",
                                            "cls.predictions.transform.dense.bias",
                                            "cls.predictions.transform.LayerNorm.weight",
                                            "cls.predictions.transform.LayerNorm.bias"}));
  // logits = LayerNorm(gelu(dense(h))) · Eᵀ + b, E the word table itself (tied).
  at::Tensor h = at::randn({3, 8});
  at::Tensor dense_w = head.named_parameters()["transform.dense.weight"];
  at::Tensor dense_b = head.named_parameters()["transform.dense.bias"];
  at::Tensor t = at::layer_norm(at::gelu(at::linear(h, dense_w, dense_b)), {8}, {}, {}, 1e-12);
  at::Tensor want = at::matmul(t, words.t());
  EXPECT_TRUE(at::allclose(head.forward(h), want, 1e-5, 1e-5));
  {
    at::NoGradGuard ng;
    words.mul_(2);  // the head reads the tower's table, not a copy
  }
  EXPECT_TRUE(at::allclose(head.forward(h), at::matmul(t, words.t()), 1e-5, 1e-5));
}

TEST(MlmHead, RobertaTowersAreRefused) {
  model::TextConfig c;
  c.model_type = "roberta";
  c.vocab_size = 30;
  c.hidden_size = 8;
  EXPECT_THROW(model::MlmHead(c, at::zeros({30, 8})), ConfigError);
}

}  // namespace
}  // namespace mmaux
