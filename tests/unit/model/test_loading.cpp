// Loading Hugging Face directories: weight-file precedence, sharded .bin, directories without
// weights (an error unless model.allow-no-weights), ViLT key prefixes; token type ids reaching
// the embeddings; the ViT interpolation option and its config.json key.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "mmaux/core/error.h"
#include "mmaux/model/dual_stream.h"
#include "mmaux/model/safetensors.h"
#include "mmaux/model/state_dict.h"
#include "mmaux/model/torch_bin.h"
#include "mmaux/model/vilt.h"
#include "model_test_util.h"
#include "support/test_support.h"

namespace mmaux::model {
namespace {

namespace fs = std::filesystem;
using mmaux::testing::message_of;
using mmaux::testing::TempDir;
using mmaux::testing::write_file;
using testing::max_diff;
using testing::random_input;
using testing::tiny_options;

fs::path data() { return mmaux::testing::source_dir() / "tests" / "data"; }

TEST(Loading, ShardedBinEqualsOneBin) {
  TensorMap sharded = read_hf_weights((data() / "torch_bin" / "hf_sharded_bin").string());
  TensorMap single = read_hf_weights((data() / "torch_bin" / "hf_single_bin").string());
  ASSERT_EQ(sharded.size(), 4u);
  ASSERT_EQ(single.size(), 4u);
  for (const auto& [name, t] : single) EXPECT_TRUE(at::equal(t, sharded.at(name))) << name;
  EXPECT_EQ(
      fs::path(hf_weights_file((data() / "torch_bin" / "hf_sharded_bin").string())).filename(),
      "pytorch_model.bin.index.json");
}

TEST(Loading, SafetensorsWinOverBinAsInTransformers) {
  TempDir dir;
  fs::copy(data() / "torch_bin" / "hf_single_bin" / "pytorch_model.bin", dir / "pytorch_model.bin");
  write_safetensors((dir / "model.safetensors").string(), {{"only_here", at::ones({2})}});
  TensorMap t = read_hf_weights(dir.path().string());
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(t.count("only_here"));
}

TEST(Loading, DirectoryWithoutWeightsIsAnErrorUnlessAllowed) {
  TempDir dir;
  write_file(dir / "bert" / "config.json",
             R"({"model_type": "bert", "hidden_size": 16, "num_hidden_layers": 1,
                 "num_attention_heads": 2, "intermediate_size": 32, "vocab_size": 50})");
  ModelOptions o = tiny_options("ber-vit-concat");
  o.dir = (dir / "bert").string();
  std::string msg = message_of<Error>([&] { make_model(o, 2); });
  EXPECT_NE(msg.find("holds no weights"), std::string::npos) << msg;
  EXPECT_NE(msg.find(o.dir), std::string::npos) << msg;
  EXPECT_NE(msg.find("pytorch_model.bin"), std::string::npos) << msg;
  write_file(dir / "bert" / "tf_model.h5", "not read");
  msg = message_of<Error>([&] { make_model(o, 2); });
  EXPECT_NE(msg.find("tf_model.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("from_tf=True"), std::string::npos) << msg;
  o.allow_no_weights = true;  // never replaces weights that are there in another format
  EXPECT_THROW(make_model(o, 2), DataError);
  fs::remove(dir / "bert" / "tf_model.h5");
  auto model = make_model(o, 2);  // the directory's architecture, randomly initialised
  EXPECT_EQ(static_cast<DualStreamModel&>(*model).text().config().hidden_size, 16);
  // A save_pretrained directory that lost its weights is refused the same way.
  o = tiny_options("vilt");
  save_pretrained(*make_model(o, 2), (dir / "saved").string());
  fs::remove(dir / "saved" / "model.safetensors");
  o.dir = (dir / "saved").string();
  EXPECT_THROW(make_model(o, 2), DataError);
  o.allow_no_weights = true;
  EXPECT_NO_THROW(make_model(o, 2));
}

TEST(Loading, BinDirectoryLoadsAndCorruptBinIsNamed) {
  const fs::path golden = data() / "hf_golden" / "models";
  ModelOptions o = tiny_options("ber-vit-concat");
  o.dir = (golden / "bert_bin_only").string();
  auto from_bin = make_model(o, 2);
  o.dir = (golden / "bert").string();
  auto from_st = make_model(o, 2);
  auto a = static_cast<DualStreamModel&>(*from_bin).text().named_parameters();
  auto b = static_cast<DualStreamModel&>(*from_st).text().named_parameters();
  for (const auto& p : a) EXPECT_TRUE(at::equal(p.value(), b[p.key()])) << p.key();
  TempDir dir;
  fs::copy(golden / "bert_bin_only", dir.path(), fs::copy_options::recursive);
  const std::string bin = (dir / "pytorch_model.bin").string();
  std::string bytes = mmaux::testing::read_file(bin);
  write_file(bin, bytes.substr(0, bytes.size() / 2));
  o.dir = dir.path().string();
  const std::string msg = message_of<Error>([&] { make_model(o, 2); });
  EXPECT_NE(msg.find(bin), std::string::npos) << msg;  // never a silent random initialisation
}

TEST(Loading, ViltKeysWithAndWithoutPrefixLoadAlike) {
  const fs::path golden = data() / "hf_golden" / "models";
  ModelOptions o = tiny_options("vilt");
  o.dir = (golden / "vilt").string();  // ViltModel.save_pretrained: no "vilt." prefix
  auto plain = make_model(o, 2);
  o.dir = (golden / "vilt_prefixed_mlm").string();  // ViltForMaskedLM: "vilt." + mlm_score.*
  auto prefixed = make_model(o, 2);
  auto a = static_cast<ViltModel&>(*plain).backbone().named_parameters();
  auto b = static_cast<ViltModel&>(*prefixed).backbone().named_parameters();
  for (const auto& p : a) EXPECT_TRUE(at::equal(p.value(), b[p.key()])) << p.key();
}

TEST(TokenTypes, ReachTheTextEmbeddings) {
  at::manual_seed(3);
  for (const char* name : {"ber-vit-concat", "vilt"}) {
    auto model = make_model(tiny_options(name), 2);
    model->eval();
    ModelInput in = random_input(2, 6, 64, 64, 1000);
    const at::Tensor zeros = model->encode(in).fused;
    in.token_type_ids = at::zeros_like(in.input_ids);
    EXPECT_TRUE(at::equal(model->encode(in).fused, zeros)) << name;  // explicit 0 = undefined
    in.token_type_ids[0].fill_(1);
    const at::Tensor ones = model->encode(in).fused;
    EXPECT_GT(max_diff(ones[0], zeros[0]), 1e-4) << name;
    EXPECT_LT(max_diff(ones[1], zeros[1]), 1e-6) << name;
    EXPECT_GT(max_diff(model->itm_logits(in, {})[0],
                       model->itm_logits(
                           {in.input_ids, in.attention_mask, in.pixels, in.pixel_mask}, {})[0]),
              1e-6)
        << name;
    // Type 1 with the two rows of the table swapped equals type 0 before.
    std::string table = std::string(name) == "vilt"
                            ? "vilt.embeddings.text_embeddings.token_type_embeddings.weight"
                            : "text.embeddings.token_type_embeddings.weight";
    {
      at::NoGradGuard no_grad;
      at::Tensor w = model->named_parameters()[table];
      w.copy_(w.flip({0}));
    }
    in.token_type_ids.fill_(1);
    EXPECT_LT(max_diff(model->encode(in).fused, zeros), 1e-6) << name;
    in.token_type_ids[1][2] = 2;  // beyond type_vocab_size 2
    EXPECT_THROW(model->encode(in), Error) << name;
  }
}

TEST(VitInterpolation, OptionConfigKeyAndSaveLoad) {
  at::manual_seed(5);
  ModelOptions o = tiny_options("ber-vit-concat");
  auto size = make_model(o, 2);  // default outside paper mode: transformers >= 4.45
  EXPECT_EQ(static_cast<DualStreamModel&>(*size).config().vision.interpolation,
            PositionInterpolation::kSize);
  o.vit_interpolation = VitInterpolation::kScaleFactor;
  auto scale = make_model(o, 2);
  EXPECT_EQ(static_cast<DualStreamModel&>(*scale).config().vision.interpolation,
            PositionInterpolation::kScaleFactor);
  TempDir dir;
  save_pretrained(*scale, (dir / "m").string());
  EXPECT_NE(mmaux::testing::read_file(dir / "m" / "config.json")
                .find(R"("mmaux_position_interpolation": "scale-factor")"),
            std::string::npos);
  ModelOptions reload = tiny_options("ber-vit-concat");
  reload.dir = (dir / "m").string();  // auto: the directory's key
  auto back = make_model(reload, 2);
  scale->eval();
  back->eval();
  ModelInput in = random_input(2, 5, 96, 48, 1000);  // 6×3 patches: interpolated
  EXPECT_TRUE(at::equal(back->encode(in).fused, scale->encode(in).fused));
  reload.vit_interpolation = VitInterpolation::kSize;  // an explicit option wins over the file
  auto forced = make_model(reload, 2);
  forced->eval();
  EXPECT_GT(max_diff(forced->encode(in).fused, scale->encode(in).fused), 1e-6);
  EXPECT_THROW(parse_option<VitInterpolation>("model.vit-interpolation", "bicubic"), ConfigError);
  write_file(dir / "bad" / "config.json",
             R"({"model_type": "vit", "mmaux_position_interpolation": "nearest"})");
  EXPECT_THROW(parse_vision_config(mmaux::testing::read_file(dir / "bad" / "config.json"),
                                   VisionConfig{}, "bad/config.json"),
               DataError);
}

}  // namespace
}  // namespace mmaux::model
