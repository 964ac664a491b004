// predict_config.json and tokenizer/: what a trained model carries so that raw posts can be
// preprocessed as its training data was; and the text step shared with preprocessing.
#include <gtest/gtest.h>

#include <string>

#include "mmaux/core/error.h"
#include "mmaux/data/input_spec.h"
#include "mmaux/data/preprocess.h"
#include "support/test_support.h"

namespace mmaux::data {
namespace {

using mmaux::testing::message_of;
using mmaux::testing::read_file;
using mmaux::testing::TempDir;
using mmaux::testing::write_file;

// [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4, then words.
void write_tokenizer(const TempDir& dir) {
  write_file(dir / "tok" / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n@\nuser\n");
  write_file(dir / "tok" / "tokenizer_config.json", R"({"do_lower_case": true})");
}

InputSpec spec_for(const Tokenizer& tok) {
  Manifest m;
  m.set_dataset("csv");
  m.set_class_names({"negative", "neutral", "positive"});
  m.set_relation_names({"describes"});
  m.set_text(8, tok.pad_id(), tok.fingerprint());
  m.set_image_preset(ImagePreset::parse("fixed:64x48"));
  return input_spec_from_manifest(m);
}

TEST(InputSpec, RoundTripsWithTheTokenizerFiles) {
  TempDir dir;
  write_tokenizer(dir);
  auto tok = Tokenizer::load((dir / "tok").string());
  InputSpec spec = spec_for(*tok);
  spec.limits.max_pixels = 1234;
  write_input_spec((dir / "best").string(), spec, (dir / "tok").string());
  EXPECT_EQ(read_file(dir / "best" / "tokenizer" / "vocab.txt"),
            read_file(dir / "tok" / "vocab.txt"));

  InputSpec back = read_input_spec((dir / "best").string());
  EXPECT_EQ(back.max_length, 8);
  EXPECT_EQ(back.tokenizer_kind, "wordpiece");
  EXPECT_EQ(back.tokenizer_fingerprint, tok->fingerprint());
  EXPECT_EQ(back.preset.to_string(), "fixed:64x48");
  EXPECT_EQ(back.preset.fingerprint(), spec.preset.fingerprint());
  EXPECT_EQ(back.limits.max_pixels, 1234);
  EXPECT_EQ(back.class_names, spec.class_names);
  EXPECT_EQ(back.relation_names, spec.relation_names);
  EXPECT_EQ(back.data_fingerprint, spec.data_fingerprint);
  EXPECT_EQ(back.preset.mean, spec.preset.mean);

  // A per-channel normalisation (the resnet preset) survives the round trip.
  spec.preset = ImagePreset::parse("resnet");
  write_input_spec((dir / "best2").string(), spec, (dir / "tok").string());
  InputSpec back2 = read_input_spec((dir / "best2").string());
  EXPECT_EQ(back2.preset.mean, spec.preset.mean);
  EXPECT_EQ(back2.preset.std, spec.preset.std);
  EXPECT_EQ(back2.preset.fingerprint(), spec.preset.fingerprint());
  auto again = load_spec_tokenizer((dir / "best").string(), back);
  EXPECT_EQ(again->encode("Hello @bob", 8).ids, tok->encode("Hello @bob", 8).ids);
}

TEST(InputSpec, RefusesAnotherTokenizer) {
  TempDir dir;
  write_tokenizer(dir);
  auto tok = Tokenizer::load((dir / "tok").string());
  InputSpec spec = spec_for(*tok);
  spec.tokenizer_fingerprint = "0123";
  EXPECT_NE(message_of<ConfigError>([&] {
              write_input_spec((dir / "best").string(), spec, (dir / "tok").string());
            }).find("it is not the same tokenizer"),
            std::string::npos);
  // Files changed after training are refused too.
  spec = spec_for(*tok);
  write_input_spec((dir / "best").string(), spec, (dir / "tok").string());
  write_file(dir / "best" / "tokenizer" / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nother\n");
  EXPECT_NE(message_of<ConfigError>([&] {
              load_spec_tokenizer((dir / "best").string(),
                                  read_input_spec((dir / "best").string()));
            }).find("changed after training"),
            std::string::npos);
}

TEST(InputSpec, AnOldCheckpointSaysWhatItLacks) {
  TempDir dir;
  write_file(dir / "best" / "config.json", "{}");
  const std::string msg =
      message_of<ConfigError>([&] { read_input_spec((dir / "best").string()); });
  EXPECT_NE(msg.find("has no predict_config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train again"), std::string::npos) << msg;
  write_file(dir / "best" / "predict_config.json", R"({"schema": 1, "text": {}})");
  EXPECT_NE(message_of<ConfigError>([&] {
              read_input_spec((dir / "best").string());
            }).find("has no 'image'"),
            std::string::npos);
}

TEST(PrepareText, IsPreprocessingsTextStep) {
  TempDir dir;
  write_tokenizer(dir);
  auto tok = Tokenizer::load((dir / "tok").string());
  PreparedText ok = prepare_text("Hello  @someone", *tok, 8);
  ASSERT_TRUE(ok.ok);
  // @someone → @USER (normalisation), lower-cased by the tokenizer: [CLS] hello @ user [SEP].
  EXPECT_EQ(ok.encoding.ids, (std::vector<int32_t>{2, 5, 6, 7, 3, 0, 0, 0}));
  EXPECT_EQ(ok.encoding.length, 5);
  PreparedText empty = prepare_text(" \t ", *tok, 8);
  EXPECT_FALSE(empty.ok);
  EXPECT_EQ(empty.reason, skip_reason::kEmptyText);
  PreparedText bad = prepare_text("a\xff\xfe", *tok, 8);
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.reason, skip_reason::kInvalidUtf8);
  PreparedText repaired = prepare_text("hello hello hello hello hello hello \xff", *tok, 8);
  EXPECT_TRUE(repaired.ok);
  EXPECT_TRUE(repaired.repaired);
}

TEST(PixelTable, NormalisesAsTheLoader) {
  ImagePreset p = ImagePreset::parse("fixed:8");
  auto lut = pixel_table(p);
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_FLOAT_EQ(lut[c][0], -1.0f);
    EXPECT_FLOAT_EQ(lut[c][255], 1.0f);
    EXPECT_NEAR(lut[c][128], (128 / 255.0 - 0.5) / 0.5, 1e-6);
  }
}

TEST(PixelTable, UsesEachChannelsStatistics) {
  ImagePreset p = ImagePreset::parse("resnet");  // MM-IMDB mean/std, different per channel
  ASSERT_NE(p.mean[0], p.mean[2]);
  auto lut = pixel_table(p);
  for (size_t c = 0; c < 3; ++c) {
    for (int v : {0, 77, 255}) {
      EXPECT_NEAR(lut[c][size_t(v)], (v / 255.0 - p.mean[c]) / p.std[c], 1e-5) << c << " " << v;
    }
  }
}

}  // namespace
}  // namespace mmaux::data
