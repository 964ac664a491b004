// LXMERT beyond the golden outputs (test_hf_golden.cpp): the base checkpoint's names and shapes,
// padding_idx 0 on the three embedding tables, region masks, the paper's heads (classifier,
// max-pooled ITC with the detached text side in paper mode, ITM on a second pass), and the
// checkpoint layouts users hold (`lxmert.` + pre-training heads, safetensors or .bin).
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <nlohmann/json.hpp>
#include <set>

#include "mmaux/core/error.h"
#include "mmaux/model/lxmert.h"
#include "mmaux/model/multimodal.h"
#include "mmaux/model/safetensors.h"
#include "mmaux/model/state_dict.h"
#include "mmaux/model/torch_bin.h"
#include "model_test_util.h"
#include "npy.h"
#include "support/test_support.h"

namespace mmaux::model {
namespace {

namespace fs = std::filesystem;
using testing::max_diff;
using testing::random_input;
using testing::tiny_options;

fs::path data() { return mmaux::testing::source_dir() / "tests" / "data"; }

std::shared_ptr<LxmertModel> tiny(bool paper = false, int classes = 3) {
  ModelOptions o = tiny_options("lxmert");
  o.paper = paper;
  return std::dynamic_pointer_cast<LxmertModel>(make_model(o, classes));
}

/// The lxmert-base preset has exactly the tensors of transformers' LxmertModel(LxmertConfig())
/// (unc-nlp/lxmert-base-uncased): names, shapes and the 207,936,768 parameters.
TEST(Lxmert, BasePresetHasTheCheckpointsNamesAndShapes) {
  const auto ref = nlohmann::json::parse(mmaux::testing::read_file(
      data() / "hf_golden" / "golden" / "reference" / "LxmertModel_base_state_dict.json"));
  LxmertBackbone base(preset_config(ModelKind::kLxmert, ModelPreset::kLxmertBase).lxmert);
  auto params = base.named_parameters();
  EXPECT_EQ(count_parameters(base), ref.at("parameters").get<int64_t>());
  EXPECT_EQ(params.size(), ref.at("tensors").size());
  for (const auto& [name, spec] : ref.at("tensors").items()) {
    ASSERT_TRUE(params.contains(name)) << name;
    EXPECT_EQ(params[name].sizes().vec(), spec.at(1).get<std::vector<int64_t>>()) << name;
  }
}

/// nn.Embedding(padding_idx=0) on word, position and token type tables: row 0 of each gets no
/// gradient (the [PAD] word, the [CLS] position, type 0), every used row does.
TEST(Lxmert, RowZeroOfEveryEmbeddingTableGetsNoGradient) {
  at::manual_seed(11);
  auto model = tiny();
  ModelInput in = random_input(2, 6, 8, 8, 1000);
  in.token_type_ids = at::zeros_like(in.input_ids);
  in.token_type_ids[1].narrow(0, 3, 3).fill_(1);
  Encoded e = model->encode(in);
  (model->classify(e.fused).sum() + e.itc_text.sum() + e.itc_image.sum()).backward();
  auto p = model->named_parameters();
  for (const char* table : {"word_embeddings", "position_embeddings", "token_type_embeddings"}) {
    at::Tensor g = p[std::string("lxmert.embeddings.") + table + ".weight"].grad();
    ASSERT_TRUE(g.defined()) << table;
    EXPECT_EQ(g[0].abs().max().item<double>(), 0.0) << table;
    if (std::string(table) != "word_embeddings") {
      EXPECT_GT(g[1].abs().max().item<double>(), 0.0) << table;  // position 1, type 1
    }
  }
  const int64_t used = in.input_ids[1][0].item<int64_t>();
  EXPECT_GT(p["lxmert.embeddings.word_embeddings.weight"].grad()[used].abs().max().item<double>(),
            0.0);
  // Random initialisation zeroes the padding rows, as transformers' _init_weights does.
  auto fresh = tiny();
  EXPECT_EQ(fresh->named_parameters()["lxmert.embeddings.position_embeddings.weight"][0]
                .abs()
                .max()
                .item<double>(),
            0.0);
}

TEST(Lxmert, PaddedRegionChangesNothingRealRegionDoes) {
  at::manual_seed(12);
  auto model = tiny();
  model->eval();
  ModelInput in = random_input(2, 6, 8, 8, 1000);  // region 4 of row 0 is padding
  Encoded a = model->encode(in);
  ModelInput changed = in;
  changed.region_features = in.region_features.clone();
  changed.region_features[0][4].fill_(9.0);
  Encoded b = model->encode(changed);
  EXPECT_EQ(max_diff(a.fused, b.fused), 0.0);
  EXPECT_EQ(max_diff(a.itc_text, b.itc_text), 0.0);
  EXPECT_EQ(max_diff(a.itc_image, b.itc_image), 0.0);
  changed.region_features[0][1].fill_(9.0);
  Encoded c = model->encode(changed);
  EXPECT_GT(max_diff(a.fused[0], c.fused[0]), 1e-6);
  EXPECT_GT(max_diff(a.itc_image[0], c.itc_image[0]), 1e-6);
  EXPECT_EQ(max_diff(a.fused[1], c.fused[1]), 0.0);
  // Pixels are not an LXMERT input.
  changed = in;
  changed.pixels = at::randn_like(in.pixels);
  EXPECT_EQ(max_diff(a.fused, model->encode(changed).fused), 0.0);
}

/// The paper's heads, written out over the backbone's outputs.
TEST(Lxmert, HeadsAreThePapers) {
  at::manual_seed(13);
  auto model = tiny(false, 4);
  model->eval();
  ModelInput in = random_input(3, 7, 8, 8, 1000);
  auto out = model->backbone().forward(in.input_ids, in.attention_mask, {}, in.region_features,
                                       in.region_boxes, in.region_mask);
  Encoded e = model->encode(in);
  EXPECT_TRUE(at::equal(e.fused, out.language.select(1, 0)));
  // ITC: max over real tokens / real regions only.
  at::Tensor text = out.language.masked_fill(in.attention_mask.eq(0).unsqueeze(2), -1e9);
  at::Tensor image = out.vision.masked_fill(in.region_mask.eq(0).unsqueeze(2), -1e9);
  EXPECT_TRUE(at::equal(e.itc_text, std::get<0>(text.max(1))));
  EXPECT_TRUE(at::equal(e.itc_image, std::get<0>(image.max(1))));
  EXPECT_GT(max_diff(e.itc_text[0], std::get<0>(out.language[0].max(0))), 0.0);  // pads excluded
  // classify = classifier(dropout(relu(fusion(fused)))).
  auto p = model->named_parameters();
  at::Tensor h = at::relu(at::linear(e.fused, p["fusion.weight"], p["fusion.bias"]));
  at::Tensor logits = at::linear(h, p["classifier.weight"], p["classifier.bias"]);
  EXPECT_LT(max_diff(model->classify(e.fused), logits), 1e-6);
  // ITM: itm_head on language_output[:, 0] of a pass over the pairs.
  at::Tensor itm = at::linear(out.language.select(1, 0), p["itm_head.weight"], p["itm_head.bias"]);
  EXPECT_LT(max_diff(model->itm_logits(in, {}), itm), 1e-6);
  // The pooler feeds no head: frozen.
  EXPECT_FALSE(p["lxmert.pooler.dense.weight"].requires_grad());
}

/// Paper mode: the ITC text vector comes from a detached copy (no gradient into the model from
/// the text side); the values are the same as without paper mode.
TEST(Lxmert, PaperModeDetachesTheItcTextSide) {
  ModelInput in = random_input(2, 6, 8, 8, 1000);
  std::map<bool, at::Tensor> values;
  for (bool paper : {false, true}) {
    at::manual_seed(14);
    auto model = tiny(paper);
    model->eval();
    Encoded e = model->encode(in);
    values[paper] = e.itc_text.detach();
    EXPECT_EQ(e.itc_text.requires_grad(), !paper);
    EXPECT_TRUE(e.itc_image.requires_grad());
    e.itc_image.sum().backward();  // the image side still reaches the shared cross layers
    EXPECT_TRUE(
        model->named_parameters()["lxmert.encoder.visn_fc.visn_fc.weight"].grad().defined());
  }
  EXPECT_TRUE(at::equal(values[false], values[true]));
}

TEST(Lxmert, MissingOrMisShapedRegionsAreClearErrors) {
  auto model = tiny();
  ModelInput in = random_input(2, 6, 8, 8, 1000);
  ModelInput none = in;
  none.region_features = at::Tensor();
  EXPECT_NE(mmaux::testing::message_of([&] { model->encode(none); }).find("--region-features"),
            std::string::npos);
  ModelInput narrow = in;
  narrow.region_features = in.region_features.narrow(2, 0, 100);
  EXPECT_NE(mmaux::testing::message_of([&] { model->encode(narrow); }).find("2048"),
            std::string::npos);
  ModelInput boxes = in;
  boxes.region_boxes = in.region_boxes.narrow(1, 0, 3);
  EXPECT_THROW(model->encode(boxes), Error);
  ModelInput long_text = random_input(1, 65, 8, 8, 1000);  // tiny: 64 positions
  EXPECT_THROW(model->encode(long_text), Error);
}

/// LxmertForPreTraining as a `.bin` (what unc-nlp/lxmert-base-uncased ships): `lxmert.` keys load,
/// the heads are skipped, and the model equals the safetensors directory's.
TEST(Lxmert, PretrainingBinLoadsLikeSafetensors) {
  ModelOptions o = tiny_options("lxmert");
  o.dir = (data() / "lxmert" / "lxmert_pretraining_bin").string();
  auto from_bin = make_model(o, 2);  // strict: heads not skipped would be "unexpected"
  o.dir = (data() / "hf_golden" / "models" / "lxmert_prefixed_pretraining").string();
  auto from_st = make_model(o, 2);
  auto pb = from_bin->named_parameters(), ps = from_st->named_parameters();
  int64_t backbone = 0;
  for (const auto& p : ps) {
    if (p.key().rfind("lxmert.", 0) != 0) continue;
    EXPECT_TRUE(at::equal(p.value(), pb[p.key()])) << p.key();
    ++backbone;
  }
  EXPECT_EQ(backbone, 147);
  std::set<std::string> names;
  for (const auto& [name, t] : read_torch_bin(
           (data() / "lxmert" / "lxmert_pretraining_bin" / "pytorch_model.bin").string())) {
    names.insert(name);
  }
  EXPECT_EQ(names.size(), 168u);
  EXPECT_TRUE(names.count("cls.predictions.bias") && names.count("answer_head.logit_fc.3.weight"));
}

/// A key that is neither the backbone nor a known pre-training head is refused when strict.
TEST(Lxmert, UnknownCheckpointKeysAreRefused) {
  mmaux::testing::TempDir dir;
  const fs::path src = data() / "hf_golden" / "models" / "lxmert";
  fs::copy_file(src / "config.json", dir / "config.json");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto& [name, t] : SafetensorsReader((src / "model.safetensors").string()).load_all()) {
    tensors.emplace_back("lxmert." + name, t);
  }
  tensors.emplace_back("lxmert.encoder.extra.weight", at::zeros({2}));
  write_safetensors((dir / "model.safetensors").string(), tensors);
  ModelOptions o = tiny_options("lxmert");
  o.dir = dir.path().string();
  EXPECT_NE(mmaux::testing::message_of([&] { make_model(o, 2); }).find("encoder.extra.weight"),
            std::string::npos);
  o.strict = false;
  EXPECT_NO_THROW(make_model(o, 2));
  o.name = ModelKind::kVilt;
  EXPECT_THROW(make_model(o, 2), ConfigError);  // an LXMERT directory needs model.name lxmert
}

}  // namespace
}  // namespace mmaux::model
