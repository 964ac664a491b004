// Checkpoints with known values, written by the test under Hugging Face key names, loaded through
// make_model, and forward passes compared with an independent computation in plain tensor ops
// (double precision, one head at a time, LayerNorm / softmax / GELU written out).
//
// Reference outputs of the Python transformers library are not used: it is not installed on the
// build machines (no PyPI access), so this hand computation is the reference.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <cmath>
#include <map>
#include <string>

#include "mmaux/core/error.h"
#include "mmaux/model/dual_stream.h"
#include "mmaux/model/multimodal.h"
#include "mmaux/model/safetensors.h"
#include "mmaux/model/state_dict.h"
#include "mmaux/model/vilt.h"
#include "model_test_util.h"
#include "support/test_support.h"

namespace mmaux::model {
namespace {

using mmaux::testing::message_of;
using Tensors = std::map<std::string, at::Tensor>;
constexpr int64_t kH = 8, kHeads = 2, kI = 12, kVocab = 11;

at::Tensor rnd(std::vector<int64_t> shape) { return at::randn(shape) * 0.5; }

// ---- checkpoints under Hugging Face names --------------------------------------------------

void add_linear(Tensors& t, const std::string& name, int64_t in, int64_t out) {
  t[name + ".weight"] = rnd({out, in});
  t[name + ".bias"] = rnd({out});
}

void add_norm(Tensors& t, const std::string& name, bool legacy = false) {
  t[name + (legacy ? ".gamma" : ".weight")] = 1.0 + rnd({kH}) * 0.2;
  t[name + (legacy ? ".beta" : ".bias")] = rnd({kH});
}

/// bert-base-uncased style (BertForPreTraining: "bert." prefix, legacy gamma/beta, cls.* head).
Tensors bert_checkpoint(int64_t positions) {
  Tensors t;
  const std::string e = "bert.embeddings.", l = "bert.encoder.layer.0.";
  t[e + "word_embeddings.weight"] = rnd({kVocab, kH});
  t[e + "position_embeddings.weight"] = rnd({positions, kH});
  t[e + "token_type_embeddings.weight"] = rnd({2, kH});
  add_norm(t, e + "LayerNorm", true);
  for (const char* p : {"query", "key", "value"}) add_linear(t, l + "attention.self." + p, kH, kH);
  add_linear(t, l + "attention.output.dense", kH, kH);
  add_norm(t, l + "attention.output.LayerNorm", true);
  add_linear(t, l + "intermediate.dense", kH, kI);
  add_linear(t, l + "output.dense", kI, kH);
  add_norm(t, l + "output.LayerNorm", true);
  add_linear(t, "bert.pooler.dense", kH, kH);
  t["cls.predictions.bias"] = rnd({kVocab});  // pre-training head: skipped
  return t;
}

/// ViT layer keys under `prefix` (ViTModel and ViLT share them).
void add_vit_layer(Tensors& t, const std::string& l) {
  for (const char* p : {"query", "key", "value"})
    add_linear(t, l + "attention.attention." + p, kH, kH);
  add_linear(t, l + "attention.output.dense", kH, kH);
  add_linear(t, l + "intermediate.dense", kH, kI);
  add_linear(t, l + "output.dense", kI, kH);
  add_norm(t, l + "layernorm_before");
  add_norm(t, l + "layernorm_after");
}

/// google/vit-base-patch16-224-in21k style (ViTModel: no prefix), image 8×8, patch 4.
Tensors vit_checkpoint() {
  Tensors t;
  t["embeddings.cls_token"] = rnd({1, 1, kH});
  t["embeddings.position_embeddings"] = rnd({1, 5, kH});
  t["embeddings.patch_embeddings.projection.weight"] = rnd({kH, 3, 4, 4});
  t["embeddings.patch_embeddings.projection.bias"] = rnd({kH});
  add_vit_layer(t, "encoder.layer.0.");
  add_norm(t, "layernorm");
  add_linear(t, "pooler.dense", kH, kH);
  return t;
}

void write_dir(const std::filesystem::path& dir, const Tensors& t, const std::string& config) {
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, at::Tensor>> list(t.begin(), t.end());
  write_safetensors((dir / "model.safetensors").string(), list);
  mmaux::testing::write_file(dir / "config.json", config);
}

const char* kBertConfig = R"({"model_type": "bert", "vocab_size": 11, "hidden_size": 8,
  "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 12,
  "max_position_embeddings": 16, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
  "hidden_act": "gelu"})";
const char* kVitConfig = R"({"model_type": "vit", "hidden_size": 8, "num_hidden_layers": 1,
  "num_attention_heads": 2, "intermediate_size": 12, "image_size": 8, "patch_size": 4,
  "layer_norm_eps": 1e-12})";

// ---- the independent computation -----------------------------------------------------------

at::Tensor d(const at::Tensor& x) { return x.to(at::kDouble); }

at::Tensor ln(const at::Tensor& x, const at::Tensor& g, const at::Tensor& b, double eps) {
  at::Tensor mean = x.mean(-1, true);
  at::Tensor var = ((x - mean) * (x - mean)).mean(-1, true);
  return (x - mean) / at::sqrt(var + eps) * d(g) + d(b);
}

at::Tensor lin(const at::Tensor& x, const Tensors& t, const std::string& name) {
  return at::matmul(x, d(t.at(name + ".weight")).t()) + d(t.at(name + ".bias"));
}

at::Tensor gelu_erf(const at::Tensor& x) { return 0.5 * x * (1.0 + at::erf(x / std::sqrt(2.0))); }

at::Tensor softmax_rows(const at::Tensor& s) {
  at::Tensor e = at::exp(s - std::get<0>(s.max(-1, true)));
  return e / e.sum(-1, true);
}

/// Self-attention of one sequence x [L, H] with key mask [L] (1 = keep), head by head.
at::Tensor attention(const at::Tensor& x, const at::Tensor& keep, const Tensors& t,
                     const std::string& self, const std::string& out) {
  at::Tensor q = lin(x, t, self + ".query"), k = lin(x, t, self + ".key");
  at::Tensor v = lin(x, t, self + ".value");
  const int64_t dh = kH / kHeads;
  std::vector<at::Tensor> heads;
  for (int64_t h = 0; h < kHeads; ++h) {
    at::Tensor qh = q.narrow(1, h * dh, dh), kh = k.narrow(1, h * dh, dh);
    at::Tensor vh = v.narrow(1, h * dh, dh);
    at::Tensor s = at::matmul(qh, kh.t()) / std::sqrt(static_cast<double>(dh));
    s = s.masked_fill(keep.eq(0).unsqueeze(0), -1e30);
    heads.push_back(at::matmul(softmax_rows(s), vh));
  }
  return lin(at::cat(heads, 1), t, out);
}

/// BERT forward of one sequence (ids [L], mask [L]) → (last hidden [L, H], pooled [H]).
std::pair<at::Tensor, at::Tensor> bert_by_hand(const Tensors& t, const at::Tensor& ids,
                                               const at::Tensor& mask,
                                               const at::Tensor& positions) {
  const std::string e = "bert.embeddings.", l = "bert.encoder.layer.0.";
  at::Tensor x = d(t.at(e + "word_embeddings.weight")).index_select(0, ids) +
                 d(t.at(e + "position_embeddings.weight")).index_select(0, positions) +
                 d(t.at(e + "token_type_embeddings.weight"))[0];
  x = ln(x, t.at(e + "LayerNorm.gamma"), t.at(e + "LayerNorm.beta"), 1e-12);
  at::Tensor a = attention(x, mask, t, l + "attention.self", l + "attention.output.dense");
  a = ln(x + a, t.at(l + "attention.output.LayerNorm.gamma"),
         t.at(l + "attention.output.LayerNorm.beta"), 1e-12);
  at::Tensor m = lin(gelu_erf(lin(a, t, l + "intermediate.dense")), t, l + "output.dense");
  at::Tensor out =
      ln(a + m, t.at(l + "output.LayerNorm.gamma"), t.at(l + "output.LayerNorm.beta"), 1e-12);
  return {out, at::tanh(lin(out[0], t, "bert.pooler.dense"))};
}

/// One pre-LN ViT layer on x [N, H] with key mask.
at::Tensor vit_layer_by_hand(const at::Tensor& x, const at::Tensor& keep, const Tensors& t,
                             const std::string& l) {
  at::Tensor h =
      ln(x, t.at(l + "layernorm_before.weight"), t.at(l + "layernorm_before.bias"), 1e-12);
  h = x + attention(h, keep, t, l + "attention.attention", l + "attention.output.dense");
  at::Tensor m = ln(h, t.at(l + "layernorm_after.weight"), t.at(l + "layernorm_after.bias"), 1e-12);
  return h + lin(gelu_erf(lin(m, t, l + "intermediate.dense")), t, l + "output.dense");
}

/// Patch i (row-major) of a [3, H, W] image, flattened like the convolution weight [3, p, p].
at::Tensor patch_vector(const at::Tensor& image, int64_t i, int64_t grid_w, int64_t p) {
  const int64_t r = i / grid_w, c = i % grid_w;
  return d(image).narrow(1, r * p, p).narrow(2, c * p, p).reshape({-1});
}

/// ViT forward of one image [3, 8, 8] → (last hidden [5, H], pooled [H]).
std::pair<at::Tensor, at::Tensor> vit_by_hand(const Tensors& t, const at::Tensor& image) {
  at::Tensor w = d(t.at("embeddings.patch_embeddings.projection.weight")).reshape({kH, -1});
  at::Tensor b = d(t.at("embeddings.patch_embeddings.projection.bias"));
  std::vector<at::Tensor> tokens = {d(t.at("embeddings.cls_token")).reshape({kH})};
  for (int64_t i = 0; i < 4; ++i) tokens.push_back(at::matmul(w, patch_vector(image, i, 2, 4)) + b);
  at::Tensor x = at::stack(tokens) + d(t.at("embeddings.position_embeddings"))[0];
  x = vit_layer_by_hand(x, at::ones({5}, at::kLong), t, "encoder.layer.0.");
  x = ln(x, t.at("layernorm.weight"), t.at("layernorm.bias"), 1e-12);
  return {x, at::tanh(lin(x[0], t, "pooler.dense"))};
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (d(a) - d(b)).abs().max().item<double>();
}

// ---- tests ---------------------------------------------------------------------------------

struct DualFixture : ::testing::Test {
  void SetUp() override {
    at::manual_seed(11);
    bert = bert_checkpoint(16);
    vit = vit_checkpoint();
    write_dir(dir / "text", bert, kBertConfig);
    write_dir(dir / "image", vit, kVitConfig);
    in.input_ids = at::tensor({2, 5, 7, 3, 0, 0, 4, 9, 1, 8, 6, 3}, at::kLong).reshape({2, 6});
    in.attention_mask = at::tensor({1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1}, at::kLong).reshape({2, 6});
    in.pixels = at::randn({2, 3, 8, 8});
    in.pixel_mask = at::ones({2, 8, 8}, at::kLong);
  }
  std::shared_ptr<DualStreamModel> load(const std::string& kind) {
    ModelOptions o;
    o.name = parse_option<ModelKind>("model.name", kind);
    o.dir = dir.path().string();
    auto m = std::dynamic_pointer_cast<DualStreamModel>(make_model(o, 3));
    m->eval();
    return m;
  }
  mmaux::testing::TempDir dir;
  Tensors bert, vit;
  ModelInput in;
};

TEST_F(DualFixture, BertLayerMatchesTheHandComputation) {
  auto model = load("ber-vit-concat");
  EncoderOutput out = model->text().forward(in.input_ids, in.attention_mask);
  for (int64_t r = 0; r < 2; ++r) {
    auto [hidden, pooled] =
        bert_by_hand(bert, in.input_ids[r], in.attention_mask[r], at::arange(6, at::kLong));
    // Padded positions have outputs too, but nothing reads them: compare the real ones.
    const int64_t real = in.attention_mask[r].sum().item<int64_t>();
    EXPECT_LT(max_diff(out.last_hidden_state[r].narrow(0, 0, real), hidden.narrow(0, 0, real)),
              1e-5)
        << "row " << r;
    EXPECT_LT(max_diff(out.pooled[r], pooled), 1e-5) << "row " << r;
  }
}

TEST_F(DualFixture, VitLayerMatchesTheHandComputation) {
  auto model = load("ber-vit-concat");
  EncoderOutput out = model->image().forward(in.pixels, in.pixel_mask);
  for (int64_t r = 0; r < 2; ++r) {
    auto [hidden, pooled] = vit_by_hand(vit, in.pixels[r]);
    EXPECT_LT(max_diff(out.last_hidden_state[r], hidden), 1e-5) << "row " << r;
    EXPECT_LT(max_diff(out.pooled[r], pooled), 1e-5) << "row " << r;
  }
}

TEST_F(DualFixture, ConcatAndAttentionFusionMatchTheHandComputation) {
  for (const char* kind : {"ber-vit-concat", "ber-vit-att"}) {
    auto model = load(kind);
    Encoded e = model->encode(in);
    auto p = model->named_parameters();
    for (int64_t r = 0; r < 2; ++r) {
      auto [t_hidden, t_pool] =
          bert_by_hand(bert, in.input_ids[r], in.attention_mask[r], at::arange(6, at::kLong));
      auto [v_hidden, v_pool] = vit_by_hand(vit, in.pixels[r]);
      at::Tensor second = v_pool;
      if (std::string(kind) == "ber-vit-att") {
        at::Tensor q = at::matmul(d(p["cross_attention.query.weight"]), t_hidden[0]) +
                       d(p["cross_attention.query.bias"]);
        at::Tensor k = at::matmul(v_hidden, d(p["cross_attention.key.weight"]).t()) +
                       d(p["cross_attention.key.bias"]);
        at::Tensor v = at::matmul(v_hidden, d(p["cross_attention.value.weight"]).t()) +
                       d(p["cross_attention.value.bias"]);
        at::Tensor w = softmax_rows(at::matmul(k, q) / std::sqrt(static_cast<double>(kH)));
        second = at::matmul(w, v);
      }
      at::Tensor fused = at::relu(at::matmul(d(p["fusion.weight"]), at::cat({t_pool, second})) +
                                  d(p["fusion.bias"]));
      EXPECT_LT(max_diff(e.fused[r], fused), 1e-5) << kind << " row " << r;
      EXPECT_LT(max_diff(e.itc_text[r], at::matmul(d(p["text_projection.weight"]), t_pool)), 1e-5);
      EXPECT_LT(max_diff(e.itc_image[r], at::matmul(d(p["image_projection.weight"]), v_pool)),
                1e-5);
      at::Tensor itm = at::matmul(d(p["itm_head.weight"]), fused) + d(p["itm_head.bias"]);
      EXPECT_LT(max_diff(model->itm_logits(in, at::Tensor())[r], itm), 1e-5);
      at::Tensor logits = at::matmul(d(p["classifier.weight"]), fused) + d(p["classifier.bias"]);
      EXPECT_LT(max_diff(model->classify(e.fused)[r], logits), 1e-5);  // eval: no dropout
    }
  }
}

TEST_F(DualFixture, RobertaPositionsStartAfterThePaddingIndex) {
  Tensors roberta;
  for (const auto& [k, v] : bert) {
    if (k.rfind("cls.", 0) == 0) continue;
    roberta["roberta." + k.substr(5)] = v;
  }
  roberta["roberta.embeddings.token_type_embeddings.weight"] = rnd({1, kH});
  roberta.erase("roberta.pooler.dense.weight");  // MLM checkpoints have no pooler
  roberta.erase("roberta.pooler.dense.bias");
  roberta["lm_head.dense.weight"] = rnd({kH, kH});
  std::filesystem::remove_all(dir / "text");
  write_dir(dir / "text", roberta,
            R"({"model_type": "roberta", "vocab_size": 11, "hidden_size": 8,
                "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 12,
                "max_position_embeddings": 16, "type_vocab_size": 1, "pad_token_id": 1,
                "layer_norm_eps": 1e-12})");
  auto model = load("ber-vit-concat");
  // Row 0 padded with the pad id 1: positions 2, 3, 4, 5 then 1, 1.
  in.input_ids[0][4] = 1;
  in.input_ids[0][5] = 1;
  in.input_ids[1][2] = 5;  // was the pad id, which RoBERTa treats as padding wherever it is
  EncoderOutput out = model->text().forward(in.input_ids, in.attention_mask);
  Tensors as_bert;
  for (const auto& [k, v] : roberta) as_bert["bert." + k.substr(8)] = v;
  auto p = model->named_parameters();  // the pooler is not in the checkpoint: initialised
  as_bert["bert.pooler.dense.weight"] = p["text.pooler.dense.weight"].detach();
  as_bert["bert.pooler.dense.bias"] = p["text.pooler.dense.bias"].detach();
  auto [hidden, pooled] = bert_by_hand(as_bert, in.input_ids[0], in.attention_mask[0],
                                       at::tensor({2, 3, 4, 5, 1, 1}, at::kLong));
  EXPECT_LT(max_diff(out.last_hidden_state[0].narrow(0, 0, 4), hidden.narrow(0, 0, 4)), 1e-5);
  // Row 1 has no padding: positions 2..7.
  auto [hidden1, pooled1] =
      bert_by_hand(as_bert, in.input_ids[1], in.attention_mask[1], at::arange(2, 8, at::kLong));
  EXPECT_LT(max_diff(out.last_hidden_state[1], hidden1), 1e-5);
}

TEST_F(DualFixture, HalfPrecisionCheckpointsConvert) {
  Tensors half;
  for (const auto& [k, v] : bert)
    half[k] = v.to(k.find("word") != std::string::npos ? at::kBFloat16 : at::kHalf);
  std::filesystem::remove_all(dir / "text");
  write_dir(dir / "text", half, kBertConfig);
  auto model = load("ber-vit-concat");
  auto p = model->named_parameters();
  EXPECT_EQ(p["text.encoder.layer.0.output.dense.weight"].scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(p["text.encoder.layer.0.output.dense.weight"],
                        half["bert.encoder.layer.0.output.dense.weight"].to(at::kFloat)));
  EXPECT_TRUE(at::equal(p["text.embeddings.word_embeddings.weight"],
                        half["bert.embeddings.word_embeddings.weight"].to(at::kFloat)));
}

TEST_F(DualFixture, StrictLoadingNamesEveryProblem) {
  Tensors broken = bert;
  broken.erase("bert.encoder.layer.0.intermediate.dense.bias");
  broken["bert.encoder.layer.0.output.dense.weight"] = rnd({kH, kI + 1});
  broken["bert.encoder.layer.7.output.dense.weight"] = rnd({kH, kI});
  std::filesystem::remove_all(dir / "text");
  write_dir(dir / "text", broken, kBertConfig);
  std::string msg = message_of<Error>([&] { load("ber-vit-concat"); });
  EXPECT_NE(msg.find("encoder.layer.0.intermediate.dense.bias"), std::string::npos) << msg;
  EXPECT_NE(msg.find("encoder.layer.0.output.dense.weight: checkpoint"), std::string::npos) << msg;
  EXPECT_NE(msg.find("encoder.layer.7.output.dense.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--model.strict false"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("cls.predictions"), std::string::npos) << "pre-training heads are skipped";
  // Non-strict: what matches loads, the rest keeps its initial values.
  ModelOptions o;
  o.name = ModelKind::kBerVitConcat;
  o.dir = dir.path().string();
  o.strict = false;
  auto model = make_model(o, 3);
  auto p = model->named_parameters();
  EXPECT_TRUE(at::equal(p["text.encoder.layer.0.attention.self.key.weight"],
                        bert["bert.encoder.layer.0.attention.self.key.weight"]));
}

TEST_F(DualFixture, ShardedCheckpoints) {
  std::filesystem::remove_all(dir / "text");
  std::filesystem::create_directories(dir / "text");
  std::vector<std::pair<std::string, at::Tensor>> a, b;
  std::string map;
  for (const auto& [k, v] : bert) {
    const bool first = k.find("encoder") == std::string::npos;
    (first ? a : b).emplace_back(k, v);
    map += (map.empty() ? "" : ",") +
           ("\"" + k + "\": \"" + (first ? "m-1.safetensors" : "m-2.safetensors") + "\"");
  }
  write_safetensors((dir / "text" / "m-1.safetensors").string(), a);
  write_safetensors((dir / "text" / "m-2.safetensors").string(), b);
  mmaux::testing::write_file(dir / "text" / "model.safetensors.index.json",
                             "{\"metadata\": {}, \"weight_map\": {" + map + "}}");
  mmaux::testing::write_file(dir / "text" / "config.json", kBertConfig);
  auto model = load("ber-vit-concat");
  EXPECT_TRUE(at::equal(model->named_parameters()["text.encoder.layer.0.output.dense.bias"],
                        bert["bert.encoder.layer.0.output.dense.bias"]));
  mmaux::testing::write_file(dir / "text" / "model.safetensors.index.json",
                             R"({"weight_map": {"x": "../escape.safetensors"}})");
  EXPECT_THROW(load("ber-vit-concat"), DataError);
}

TEST(ViltReference, OneLayerMatchesTheHandComputation) {
  at::manual_seed(12);
  Tensors t;
  const std::string e = "vilt.embeddings.";
  t[e + "text_embeddings.word_embeddings.weight"] = rnd({kVocab, kH});
  t[e + "text_embeddings.position_embeddings.weight"] = rnd({6, kH});
  t[e + "text_embeddings.token_type_embeddings.weight"] = rnd({2, kH});
  add_norm(t, e + "text_embeddings.LayerNorm");
  t[e + "cls_token"] = rnd({1, 1, kH});
  t[e + "position_embeddings"] = rnd({1, 5, kH});  // 8×8 image, patch 4: 2×2 grid
  t[e + "patch_embeddings.projection.weight"] = rnd({kH, 3, 4, 4});
  t[e + "patch_embeddings.projection.bias"] = rnd({kH});
  t[e + "token_type_embeddings.weight"] = rnd({2, kH});
  add_vit_layer(t, "vilt.encoder.layer.0.");
  add_norm(t, "vilt.layernorm");
  add_linear(t, "vilt.pooler.dense", kH, kH);
  t["mlm_score.decoder.weight"] = rnd({kVocab, kH});  // pre-training head: skipped
  mmaux::testing::TempDir dir;
  write_dir(dir.path(), t,
            R"({"model_type": "vilt", "vocab_size": 11, "hidden_size": 8, "num_hidden_layers": 1,
                "num_attention_heads": 2, "intermediate_size": 12, "max_position_embeddings": 6,
                "image_size": 8, "patch_size": 4, "layer_norm_eps": 1e-12})");
  ModelOptions o;
  o.name = ModelKind::kVilt;
  o.dir = dir.path().string();
  auto model = make_model(o, 2);
  model->eval();
  // Expected outputs for one image [3, 4·gh, 4·gw] whose patch k takes position row positions[k]
  // of the checkpoint's 2×2 grid (plus 1 for [CLS]).
  auto check = [&](const at::Tensor& pixels, int64_t gw, const std::vector<int64_t>& positions) {
    ModelInput in;
    in.input_ids = at::tensor({3, 8, 2, 0, 0}, at::kLong).reshape({1, 5});
    in.attention_mask = at::tensor({1, 1, 1, 0, 0}, at::kLong).reshape({1, 5});
    in.pixels = pixels.unsqueeze(0);
    in.pixel_mask = at::ones({1, pixels.size(1), pixels.size(2)}, at::kLong);
    Encoded out = model->encode(in);
    at::Tensor ids = in.input_ids[0];
    at::Tensor text = d(t.at(e + "text_embeddings.word_embeddings.weight")).index_select(0, ids) +
                      d(t.at(e + "text_embeddings.position_embeddings.weight")).narrow(0, 0, 5) +
                      d(t.at(e + "text_embeddings.token_type_embeddings.weight"))[0];
    text = ln(text, t.at(e + "text_embeddings.LayerNorm.weight"),
              t.at(e + "text_embeddings.LayerNorm.bias"), 1e-12);
    at::Tensor modality = d(t.at(e + "token_type_embeddings.weight"));
    text = text + modality[0];
    at::Tensor w = d(t.at(e + "patch_embeddings.projection.weight")).reshape({kH, -1});
    at::Tensor b = d(t.at(e + "patch_embeddings.projection.bias"));
    at::Tensor pos = d(t.at(e + "position_embeddings"))[0];
    std::vector<at::Tensor> image = {d(t.at(e + "cls_token")).reshape({kH}) + pos[0]};
    for (size_t k = 0; k < positions.size(); ++k) {
      image.push_back(at::matmul(w, patch_vector(pixels, static_cast<int64_t>(k), gw, 4)) + b +
                      pos[1 + positions[k]]);
    }
    at::Tensor x = at::cat({text, at::stack(image) + modality[1]});
    at::Tensor keep = at::cat({at::tensor({1, 1, 1, 0, 0}, at::kLong),
                               at::ones({1 + static_cast<int64_t>(positions.size())}, at::kLong)});
    x = vit_layer_by_hand(x, keep, t, "vilt.encoder.layer.0.");
    x = ln(x, t.at("vilt.layernorm.weight"), t.at("vilt.layernorm.bias"), 1e-12);
    EXPECT_LT(max_diff(out.itc_text[0], x[0]), 1e-5);
    EXPECT_LT(max_diff(out.itc_image[0], x[5]), 1e-5);
    EXPECT_LT(max_diff(out.fused[0], at::tanh(lin(x[0], t, "vilt.pooler.dense"))), 1e-5);
  };
  check(at::randn({3, 8, 8}), 2, {0, 1, 2, 3});  // the checkpoint's own 2×2 grid
  // A 1×2 grid: bilinear with align_corners (as Hugging Face) maps it onto the grid's first row.
  check(at::randn({3, 4, 8}), 2, {0, 1});
}

}  // namespace
}  // namespace mmaux::model
