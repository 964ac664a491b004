#include <gtest/gtest.h>

#include "mmaux/core/error.h"
#include "mmaux/data/text.h"
#include "mmaux/data/tokenizer.h"
#include "support/test_support.h"

namespace mmaux::data {
using mmaux::testing::TempDir;
using mmaux::testing::write_file;

TEST(Text, NormalisesTweets) {
  EXPECT_EQ(normalize_tweet("@ChuckB63 Just chillin... https://t.co/S4CDWGS4lm"),
            "@USER Just chillin... HTTPURL");
  EXPECT_EQ(normalize_tweet("RT @eRewardsUS: Happy Flag Day!!!!!! www.x.com/a"),
            "RT @USER: Happy Flag Day!!! HTTPURL");
  EXPECT_EQ(normalize_tweet("fish &amp; chips &lt;3 &#233;t&#xE9; &bogus;"),
            "fish & chips <3 \xC3\xA9t\xC3\xA9 &bogus;");
  EXPECT_EQ(normalize_tweet("mail me: a@b.com"), "mail me: a@b.com");  // not a mention
  EXPECT_EQ(normalize_tweet("  two\t\nlines  "), "two lines");
  EXPECT_EQ(normalize_tweet("aaaa ????? ...."), "aaaa ??? ...");  // letters are not cut
  EXPECT_EQ(normalize_tweet("wow\xE2\x80\xA6\xE2\x80\xA6\xE2\x80\xA6\xE2\x80\xA6"),
            "wow\xE2\x80\xA6\xE2\x80\xA6\xE2\x80\xA6");  // Unicode punctuation (…) too
}

TEST(Text, RepairsAndDecodes) {
  int bad = 0;
  EXPECT_EQ(repair_utf8("ok\xFFgo", &bad), "ok\xEF\xBF\xBDgo");
  EXPECT_EQ(bad, 1);
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9"));
  EXPECT_FALSE(is_valid_utf8("caf\xE9"));
  EXPECT_EQ(latin1_to_utf8("caf\xE9"), "caf\xC3\xA9");
  EXPECT_EQ(nfc("e\xCC\x81"), "\xC3\xA9");
}

TEST(WordPiece, FollowsBertBasicAndWordpieceRules) {
  TempDir dir;
  write_file(dir / "vocab.txt",
             "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\n##aff\n##able\ncafe\n,\n!\nhello\n@\nuser\n"
             "httpurl\n\xE4\xBD\xA0\n");
  write_file(dir / "tokenizer_config.json", R"({"do_lower_case": true})");
  auto tok = Tokenizer::load(dir.path().string());
  EXPECT_EQ(tok->kind(), "wordpiece");
  EXPECT_EQ(tok->vocab_size(), 16);
  EXPECT_EQ(tok->tokenize_to_strings("UNaffable, Caf\xC3\xA9! hello"),
            (std::vector<std::string>{"un", "##aff", "##able", ",", "cafe", "!", "hello"}));
  EXPECT_EQ(tok->tokenize_to_strings("@USER HTTPURL unknownword \xE4\xBD\xA0\xE5\xA5\xBD"),
            (std::vector<std::string>{"@", "user", "httpurl", "[UNK]", "\xE4\xBD\xA0", "[UNK]"}));
  auto e = tok->encode("hello hello hello", 4);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 11, 11, 3}));
  EXPECT_TRUE(e.truncated);
  auto p = tok->encode("hello", 6);
  EXPECT_EQ(p.ids, (std::vector<int32_t>{2, 11, 3, 0, 0, 0}));
  EXPECT_EQ(p.length, 3);
  // Cased vocabularies keep case and accents.
  write_file(dir / "tokenizer_config.json", R"({"do_lower_case": false})");
  auto cased = Tokenizer::load(dir.path().string());
  EXPECT_EQ(cased->tokenize_to_strings("Hello"), (std::vector<std::string>{"[UNK]"}));
  EXPECT_NE(cased->fingerprint(), tok->fingerprint());
}

TEST(ByteBpe, FollowsGpt2PretokenisationAndMerges) {
  TempDir dir;
  // "Ġ" (U+0120) is the byte-level form of a space.
  write_file(dir / "vocab.json",
             R"({"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"h":4,"e":5,"l":6,"o":7,"he":8,"ll":9,)"
             R"("hell":10,"hello":11,"Ġ":12,"Ġhello":13,"!":14,"'s":15,"Ġw":16,"w":17})");
  write_file(dir / "merges.txt",
             "#version: 0.2\n' s\nh e\nl l\nhe ll\nhell o\n\xC4\xA0 hello\n\xC4\xA0 w\n");
  auto tok = Tokenizer::load(dir.path().string());
  EXPECT_EQ(tok->kind(), "bpe");
  EXPECT_EQ(tok->tokenize_to_strings("hello hello!"),
            (std::vector<std::string>{"hello", "\xC4\xA0hello", "!"}));
  EXPECT_EQ(tok->tokenize("hello's"), (std::vector<int32_t>{11, 15}));
  // Two spaces: the first stays a token of its own, the second joins the word.
  EXPECT_EQ(tok->tokenize_to_strings("hello  hello"),
            (std::vector<std::string>{"hello", "\xC4\xA0", "\xC4\xA0hello"}));
  auto e = tok->encode("hello", 5);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{0, 11, 2, 1, 1}));
  EXPECT_EQ(tok->pad_id(), 1);
  EXPECT_EQ(tok->tokenize("x"), (std::vector<int32_t>{3}));
}

TEST(Tokenizer, MissingFilesAreNamed) {
  TempDir dir;
  try {
    Tokenizer::load(dir.path().string());
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.txt"), std::string::npos);
  }
}

TEST(ModelDirectory, DefaultsFromConfig) {
  TempDir dir;
  write_file(dir / "config.json", R"({"model_type": "bert", "image_size": 64,
                                      "max_text_length": 32})");
  auto m = read_model_directory(dir.path().string());
  EXPECT_EQ(m.max_text_length, 32);
  EXPECT_EQ(m.image_preset.to_string(), "fixed:64");
  write_file(dir / "config.json", R"({"model_type": "vilt", "max_position_embeddings": 40})");
  m = read_model_directory(dir.path().string());
  EXPECT_EQ(m.max_text_length, 40);
  EXPECT_TRUE(m.image_preset.variable_size());
  write_file(dir / "config.json", R"({"model_type": "roberta"})");
  write_file(dir / "tokenizer_config.json",
             R"({"model_max_length": 1000000000000000019884624838656})");
  m = read_model_directory(dir.path().string());
  EXPECT_EQ(m.max_text_length, 128);
  EXPECT_FALSE(m.has_image_preset);
}

}  // namespace mmaux::data
