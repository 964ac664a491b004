// The three multimodal models through the MultimodalModel interface: shapes, masks, freezing,
// presets, directories, save → load.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "mmaux/core/error.h"
#include "mmaux/model/config.h"
#include "mmaux/model/dual_stream.h"
#include "mmaux/model/layers.h"
#include "mmaux/model/mlm_head.h"
#include "mmaux/model/multimodal.h"
#include "mmaux/model/state_dict.h"
#include "mmaux/model/vilt.h"
#include "model_test_util.h"
#include "support/test_support.h"

namespace mmaux::model {
namespace {

using testing::max_diff;
using testing::random_input;
using testing::tiny_options;

class EveryModel : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryModel, ShapesOfEveryOutput) {
  at::manual_seed(1);
  auto model = make_model(tiny_options(GetParam()), 5);
  EXPECT_EQ(name_of(model->kind()), GetParam());
  EXPECT_EQ(model->num_classes(), 5);
  ModelInput in = random_input(3, 12, 64, 64, 1000);
  Encoded e = model->encode(in);
  EXPECT_EQ(e.fused.sizes(), (std::vector<int64_t>{3, 128}));
  // vilt and lxmert: no projection; tiny projects to 64.
  const int64_t d = GetParam() == "vilt" || GetParam() == "lxmert" ? 128 : 64;
  EXPECT_EQ(e.itc_text.sizes(), (std::vector<int64_t>{3, d}));
  EXPECT_EQ(e.itc_image.sizes(), (std::vector<int64_t>{3, d}));
  EXPECT_FALSE(e.image_cache.defined());
  EXPECT_EQ(model->classify(e.fused).sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(model->itm_logits(in, at::Tensor()).sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_TRUE(at::isfinite(e.fused).all().item<bool>());
}

TEST_P(EveryModel, BackwardReachesEveryTrainableParameter) {
  at::manual_seed(2);
  auto model = make_model(tiny_options(GetParam()), 3);
  ModelInput in = random_input(2, 8, 64, 64, 1000);
  Encoded e = model->encode(in);
  at::Tensor loss = model->classify(e.fused).sum() + e.itc_text.sum() + e.itc_image.sum() +
                    model->itm_logits(in, e.image_cache).sum();
  loss.backward();
  for (const auto& p : model->named_parameters()) {
    // lxmert's pooler feeds no head and is frozen (as the paper's AdamW never sees a gradient).
    if (!p.value().requires_grad()) {
      EXPECT_EQ(p.key().rfind("lxmert.pooler.", 0), 0u) << p.key();
      continue;
    }
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
  }
}

TEST_P(EveryModel, PaddedTokenChangesNothingRealTokenDoes) {
  at::manual_seed(3);
  auto model = make_model(tiny_options(GetParam()), 2);
  model->eval();
  ModelInput in = random_input(2, 10, 64, 64, 1000, 4);
  Encoded a = model->encode(in);
  ModelInput padded = in;
  padded.input_ids = in.input_ids.clone();
  padded.input_ids[0][8] = 77;  // a padding position of row 0
  Encoded b = model->encode(padded);
  EXPECT_EQ(max_diff(a.fused, b.fused), 0.0);
  EXPECT_EQ(max_diff(a.itc_text, b.itc_text), 0.0);
  EXPECT_EQ(max_diff(a.itc_image, b.itc_image), 0.0);
  ModelInput real = in;
  real.input_ids = in.input_ids.clone();
  real.input_ids[0][2] = in.input_ids[0][2].item<int64_t>() % 999 + 1;
  Encoded c = model->encode(real);
  EXPECT_GT(max_diff(a.fused[0], c.fused[0]), 1e-6);
  EXPECT_EQ(max_diff(a.fused[1], c.fused[1]), 0.0);  // rows are independent
}

TEST_P(EveryModel, PaddedPatchChangesNothingRealPatchDoes) {
  if (GetParam() == "lxmert") GTEST_SKIP() << "no pixels (Lxmert.PaddedRegionChangesNothing)";
  at::manual_seed(4);
  auto model = make_model(tiny_options(GetParam()), 2);
  model->eval();
  ModelInput in = random_input(2, 6, 64, 64, 1000);
  using at::indexing::Slice;
  in.pixel_mask.index_put_({0, Slice(), Slice(48, 64)}, 0);  // last patch column of image 0
  in.pixel_mask.index_put_({0, Slice(32, 64), Slice()}, 0);  // and the lower half
  Encoded a = model->encode(in);
  ModelInput changed = in;
  changed.pixels = in.pixels.clone();
  changed.pixels.index_put_({0, Slice(), Slice(32, 64), Slice()}, 5.0);
  changed.pixels.index_put_({0, Slice(), Slice(), Slice(48, 64)}, -5.0);
  Encoded b = model->encode(changed);
  EXPECT_EQ(max_diff(a.fused, b.fused), 0.0);
  EXPECT_EQ(max_diff(a.itc_image, b.itc_image), 0.0);
  EXPECT_EQ(max_diff(a.itc_text, b.itc_text), 0.0);
  changed.pixels.index_put_({0, Slice(), Slice(0, 16), Slice(0, 16)}, 3.0);  // a real patch
  Encoded c = model->encode(changed);
  EXPECT_GT(max_diff(a.itc_image[0], c.itc_image[0]), 1e-6);
}

TEST_P(EveryModel, SaveLoadIsBitIdentical) {
  at::manual_seed(5);
  ModelOptions o = tiny_options(GetParam());
  auto a = make_model(o, 4);
  mmaux::testing::TempDir dir;
  save_pretrained(*a, (dir / "best").string());
  at::manual_seed(99);  // a different random init that loading must overwrite
  o.dir = (dir / "best").string();
  auto b = make_model(o, 4);
  auto pa = a->named_parameters(), pb = b->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) {
    ASSERT_TRUE(pb.contains(p.key())) << p.key();
    EXPECT_TRUE(at::equal(p.value(), pb[p.key()])) << p.key();
  }
  a->eval();
  b->eval();
  ModelInput in = random_input(2, 7, 64, 64, 1000);
  EXPECT_TRUE(at::equal(a->encode(in).fused, b->encode(in).fused));
}

TEST_P(EveryModel, FreezingStopsGradients) {
  ModelOptions o = tiny_options(GetParam());
  o.freeze_image = true;
  o.freeze_text = true;
  auto model = make_model(o, 2);
  int64_t frozen = 0, trainable = 0;
  for (const auto& p : model->named_parameters()) {
    (p.value().requires_grad() ? trainable : frozen) += p.value().numel();
  }
  EXPECT_GT(frozen, 0);
  EXPECT_GT(trainable, 0);  // heads (and for vilt the shared transformer) still train
}

INSTANTIATE_TEST_SUITE_P(Models, EveryModel,
                         ::testing::Values("ber-vit-concat", "ber-vit-att", "vilt", "lxmert"));

TEST(DualStream, ParameterNamesFollowHuggingFace) {
  auto model = make_model(tiny_options("ber-vit-att"), 2);
  auto names = model->named_parameters();
  for (const char* key : {"text.embeddings.word_embeddings.weight",
                          "text.embeddings.LayerNorm.weight",
                          "text.encoder.layer.1.attention.self.query.weight",
                          "text.encoder.layer.0.attention.output.LayerNorm.bias",
                          "text.encoder.layer.0.intermediate.dense.weight",
                          "text.encoder.layer.0.output.dense.bias",
                          "text.pooler.dense.weight",
                          "image.embeddings.cls_token",
                          "image.embeddings.position_embeddings",
                          "image.embeddings.patch_embeddings.projection.weight",
                          "image.encoder.layer.1.attention.attention.value.bias",
                          "image.encoder.layer.0.layernorm_before.weight",
                          "image.layernorm.weight",
                          "image.pooler.dense.bias",
                          "text_projection.weight",
                          "image_projection.weight",
                          "fusion.weight",
                          "cross_attention.key.weight",
                          "classifier.weight",
                          "itm_head.bias"}) {
    EXPECT_TRUE(names.contains(key)) << key;
  }
  EXPECT_FALSE(names.contains("text_projection.bias"));
}

TEST(DualStream, FrozenImageCacheGivesTheSameItmLogits) {
  at::manual_seed(6);
  for (const char* name : {"ber-vit-concat", "ber-vit-att"}) {
    ModelOptions o = tiny_options(name);
    o.freeze_image = true;
    auto model = make_model(o, 2);
    model->eval();
    ModelInput in = random_input(3, 9, 64, 64, 1000);
    Encoded e = model->encode(in);
    ASSERT_TRUE(e.image_cache.defined()) << name;
    EXPECT_EQ(e.image_cache.sizes(), (std::vector<int64_t>{3, 17 + 1, 128}));
    ModelInput swapped = in;  // texts of rows 1, 2, 0 with the original images
    swapped.input_ids = in.input_ids.roll(1, 0);
    swapped.attention_mask = in.attention_mask.roll(1, 0);
    at::Tensor cached = model->itm_logits(swapped, e.image_cache);
    at::Tensor fresh = model->itm_logits(swapped, at::Tensor());
    EXPECT_LT(max_diff(cached, fresh), 1e-6) << name;
    EXPECT_FALSE(o.reuse_frozen && !e.image_cache.defined());
  }
}

TEST(DualStream, OtherImageSizesInterpolatePositions) {
  at::manual_seed(9);
  auto model =
      std::dynamic_pointer_cast<DualStreamModel>(make_model(tiny_options("ber-vit-att"), 2));
  model->eval();
  ModelInput in = random_input(2, 5, 96, 48, 1000);  // 6×3 patches instead of the preset's 4×4
  EncoderOutput v = model->image().forward(in.pixels, in.pixel_mask);
  EXPECT_EQ(v.last_hidden_state.sizes(), (std::vector<int64_t>{2, 6 * 3 + 1, 128}));
  EXPECT_TRUE(at::isfinite(v.last_hidden_state).all().item<bool>());
  Encoded e = model->encode(in);
  EXPECT_EQ(e.fused.sizes(), (std::vector<int64_t>{2, 128}));
  ModelInput odd = random_input(1, 5, 50, 64, 1000);
  EXPECT_THROW(model->encode(odd), Error);  // not a multiple of the patch size
}

TEST(DualStream, NoCacheWithoutReuse) {
  ModelOptions o = tiny_options("ber-vit-concat");
  o.freeze_image = true;
  o.reuse_frozen = false;
  auto model = make_model(o, 2);
  EXPECT_FALSE(model->encode(random_input(1, 4, 64, 64, 100, 0)).image_cache.defined());
}

TEST(Vilt, ParameterNamesFollowTheCheckpoint) {
  auto model = make_model(tiny_options("vilt"), 2);
  auto names = model->named_parameters();
  for (const char* key :
       {"vilt.embeddings.text_embeddings.word_embeddings.weight",
        "vilt.embeddings.text_embeddings.LayerNorm.bias", "vilt.embeddings.cls_token",
        "vilt.embeddings.position_embeddings", "vilt.embeddings.patch_embeddings.projection.weight",
        "vilt.embeddings.token_type_embeddings.weight",
        "vilt.encoder.layer.0.attention.attention.query.weight",
        "vilt.encoder.layer.1.layernorm_after.bias", "vilt.layernorm.weight",
        "vilt.pooler.dense.weight", "classifier.bias", "itm_head.weight"}) {
    EXPECT_TRUE(names.contains(key)) << key;
  }
}

TEST(Vilt, ImagesOfOtherSizesAndPaddedBatches) {
  at::manual_seed(7);
  auto model = make_model(tiny_options("vilt"), 2);
  model->eval();
  // A 32×48 image alone, and the same image padded to 64×64 in a batch: same outputs.
  ModelInput alone = random_input(1, 5, 32, 48, 1000, 0);
  Encoded a = model->encode(alone);
  ModelInput padded = random_input(2, 5, 64, 64, 1000, 0);
  padded.input_ids[0].copy_(alone.input_ids[0]);
  using at::indexing::Slice;
  padded.pixels.index_put_({0, Slice(), Slice(0, 32), Slice(0, 48)}, alone.pixels[0]);
  padded.pixel_mask[0].fill_(0);
  padded.pixel_mask.index_put_({0, Slice(0, 32), Slice(0, 48)}, 1);
  Encoded b = model->encode(padded);
  EXPECT_LT(max_diff(a.fused[0], b.fused[0]), 1e-5);
  EXPECT_LT(max_diff(a.itc_image[0], b.itc_image[0]), 1e-5);
}

TEST(Presets, ParameterCounts) {
  for (const char* name : {"ber-vit-concat", "ber-vit-att", "vilt", "lxmert"}) {
    auto tiny = make_model(tiny_options(name), 2);
    EXPECT_GT(count_parameters(*tiny), 1'000'000) << name;
    // lxmert: three stacks (language, relation, cross) and a 2048-d feature projection.
    EXPECT_LT(count_parameters(*tiny), std::string(name) == "lxmert" ? 6'000'000 : 5'000'000)
        << name;
    ModelOptions o = tiny_options(name);
    o.preset = ModelPreset::kSmall;
    auto small = make_model(o, 2);
    EXPECT_GT(count_parameters(*small), 10'000'000) << name;
    EXPECT_LT(count_parameters(*small), 20'000'000) << name;
  }
  // The base presets have the pretrained checkpoints' shapes (counted without building them).
  ModelArchitecture base = preset_config(ModelKind::kBerVitConcat, ModelPreset::kBerVitBase);
  EXPECT_EQ(base.text.hidden_size, 768);
  EXPECT_EQ(base.vision.image_size, 224);
  EXPECT_EQ(base.vision.patch_size, 16);
  EXPECT_EQ(preset_config(ModelKind::kVilt, ModelPreset::kViltB32).vilt.patch_size, 32);
  EXPECT_EQ(preset_config(ModelKind::kVilt, ModelPreset::kViltB32).vilt.max_position_embeddings,
            40);
}

TEST(MakeModel, SyntheticDataDirectoryWithoutWeights) {
  mmaux::testing::TempDir dir;
  mmaux::testing::write_file(dir / "model" / "config.json",
                             R"({"model_type": "bert", "mmaux_preset": "tiny", "vocab_size": 321,
          "max_position_embeddings": 64, "image_size": 64, "patch_size": 16,
          "max_text_length": 32})");
  mmaux::testing::write_file(dir / "model" / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
  for (const char* name : {"ber-vit-concat", "ber-vit-att", "vilt", "lxmert"}) {
    ModelOptions o = tiny_options(name);
    o.preset = ModelPreset::kSmall;  // the directory's mmaux_preset wins
    o.dir = (dir / "model").string();
    auto model = make_model(o, 3);
    auto names = model->named_parameters();
    const std::string emb =
        std::string(name) == "vilt"     ? "vilt.embeddings.text_embeddings.word_embeddings.weight"
        : std::string(name) == "lxmert" ? "lxmert.embeddings.word_embeddings.weight"
                                        : "text.embeddings.word_embeddings.weight";
    EXPECT_EQ(names[emb].sizes(), (std::vector<int64_t>{321, 128})) << name;
    Encoded e = model->encode(random_input(2, 32, 64, 64, 321));
    EXPECT_EQ(e.fused.size(0), 2);
    EXPECT_LT(count_parameters(*model), 5'000'000);
  }
}

TEST(MakeModel, BadDirectoriesAreClearErrors) {
  mmaux::testing::TempDir dir;
  ModelOptions o = tiny_options("ber-vit-concat");
  o.dir = (dir / "absent").string();
  EXPECT_THROW(make_model(o, 2), ConfigError);
  mmaux::testing::write_file(dir / "m" / "config.json", R"({"model_type": "gpt2"})");
  o.dir = (dir / "m").string();
  EXPECT_THROW(make_model(o, 2), ConfigError);
  mmaux::testing::write_file(dir / "j" / "config.json", "{not json");
  o.dir = (dir / "j").string();
  EXPECT_THROW(make_model(o, 2), DataError);
  o.name = ModelKind::kVilt;
  mmaux::testing::write_file(dir / "b" / "config.json", R"({"model_type": "bert"})");
  o.dir = (dir / "b").string();
  EXPECT_THROW(make_model(o, 2), ConfigError);
}

TEST(MakeModel, ExportedTowersReloadAsHuggingFaceDirectories) {
  at::manual_seed(8);
  auto a = make_model(tiny_options("ber-vit-att"), 2);
  mmaux::testing::TempDir dir;
  export_towers(*a, (dir / "towers").string());
  save_pretrained(*a, (dir / "both").string());
  export_towers(*a, (dir / "both").string());
  ModelOptions o = tiny_options("ber-vit-att");
  o.dir = (dir / "towers").string();
  auto towers = make_model(o, 2);
  o.dir = (dir / "both").string();
  auto both = make_model(o, 2);  // config.json with mmaux_model wins over text/ + image/
  auto pa = a->named_parameters(), pt = towers->named_parameters(), pb = both->named_parameters();
  for (const auto& p : pa) {
    EXPECT_TRUE(at::equal(p.value(), pb[p.key()])) << p.key();
    const bool tower = p.key().rfind("text.", 0) == 0 || p.key().rfind("image.", 0) == 0;
    const bool bias = p.key().find(".bias") != std::string::npos;  // zero-initialised
    if (tower || !bias) {
      EXPECT_EQ(at::equal(p.value(), pt[p.key()]), tower) << p.key();
    }
  }
  EXPECT_THROW(export_towers(*make_model(tiny_options("vilt"), 2), dir.path().string()), Error);
}

// Towers as `mmaux pretrain` writes them (BertForMaskedLM layout: bert.* + cls.predictions.*):
// the towers load exactly, the MLM head is skipped (as transformers' BertModel skips it), and
// any other unexpected key is still refused in strict mode.
TEST(MakeModel, PretrainedTowersWithMlmHeadLoadAndOtherKeysAreRefused) {
  at::manual_seed(9);
  auto a = make_model(tiny_options("ber-vit-concat"), 2);
  auto& dual = static_cast<DualStreamModel&>(*a);
  MlmHead head(dual.config().text, dual.text().embeddings().words().weight());
  TextTowerExtras extras{"bert.", head.hf_tensors(), "BertForMaskedLM"};
  mmaux::testing::TempDir dir;
  export_towers(*a, (dir / "ok").string(), extras);
  ModelOptions o = tiny_options("ber-vit-concat");
  o.dir = (dir / "ok").string();
  auto b = make_model(o, 2);
  auto pb = b->named_parameters();
  for (const auto& p : a->named_parameters()) {
    if (p.key().rfind("text.", 0) == 0 || p.key().rfind("image.", 0) == 0) {
      EXPECT_TRUE(at::equal(p.value(), pb[p.key()])) << p.key();
    }
  }
  extras.tensors.emplace_back("bert.unexpected.weight", at::zeros({2}));
  export_towers(*a, (dir / "bad").string(), extras);
  o.dir = (dir / "bad").string();
  EXPECT_THROW(make_model(o, 2), DataError);
  o.strict = false;
  EXPECT_NO_THROW(make_model(o, 2));
}

TEST(MakeModel, SavedModelOfAnotherKindIsRejected) {
  mmaux::testing::TempDir dir;
  save_pretrained(*make_model(tiny_options("ber-vit-att"), 2), dir.path().string());
  ModelOptions o = tiny_options("ber-vit-concat");
  o.dir = dir.path().string();
  EXPECT_THROW(make_model(o, 2), ConfigError);
}

TEST(MakeModel, OtherClassCountNeedsNonStrict) {
  mmaux::testing::TempDir dir;
  ModelOptions o = tiny_options("vilt");
  save_pretrained(*make_model(o, 2), dir.path().string());
  o.dir = dir.path().string();
  EXPECT_THROW(make_model(o, 3), DataError);
  o.strict = false;
  EXPECT_EQ(make_model(o, 3)->num_classes(), 3);
}

TEST(MakeModel, EncoderDropoutOverride) {
  ModelOptions o = tiny_options("ber-vit-concat");
  o.encoder_dropout = 0.0;
  o.dropout = 0.0;
  auto model = make_model(o, 2);
  model->train();
  ModelInput in = random_input(2, 6, 64, 64, 1000);
  EXPECT_TRUE(at::equal(model->encode(in).fused, model->encode(in).fused));
  auto with_dropout = make_model(tiny_options("ber-vit-concat"), 2);  // BERT default 0.1
  with_dropout->train();
  EXPECT_FALSE(at::equal(with_dropout->encode(in).fused, with_dropout->encode(in).fused));
}

TEST(MakeModel, DoubleModelsWork) {
  auto model = make_model(tiny_options("ber-vit-att"), 2);
  model->to(at::kDouble);
  model->eval();
  Encoded e = model->encode(random_input(2, 6, 64, 64, 1000));
  EXPECT_EQ(e.fused.scalar_type(), at::kDouble);
}

}  // namespace
}  // namespace mmaux::model
