// BertTokenizer and RobertaTokenizer of transformers 4.40, reproduced. Every expectation below
// was derived by following transformers' code step by step (PreTrainedTokenizer.tokenize, then
// BasicTokenizer / WordpieceTokenizer or RobertaTokenizer._tokenize); the comments give the steps.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mmaux/core/error.h"
#include "mmaux/data/tokenizer.h"
#include "support/test_support.h"

namespace mmaux::data {
namespace {

using mmaux::testing::TempDir;
using mmaux::testing::write_file;
using Strings = std::vector<std::string>;
using Ids = std::vector<int32_t>;

// vocab.txt ids: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4, before 5, ##af 6, ##ter 7,
// words 8, a 9, b 10, line 11, para 12, cafe 13, i 14, [ 15, ] 16, cls 17, ##b 18, ##para 19,
// <e> 20, ##\u0307 21
const char* const kBertVocab =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nbefore\n##af\n##ter\nwords\na\nb\nline\npara\ncafe\ni\n"
    "[\n]\ncls\n##b\n##para\n<e>\n##\xCC\x87\n";

std::unique_ptr<Tokenizer> bert(const TempDir& dir, const std::string& config) {
  write_file(dir / "vocab.txt", kBertVocab);
  write_file(dir / "tokenizer_config.json", config);
  return Tokenizer::load(dir.path().string());
}

TEST(BertTokenizer, NulIsDroppedNotTheEndOfTheText) {
  TempDir dir;
  auto tok = bert(dir, R"({"do_lower_case": true})");
  // _clean_text drops U+0000: "beforeafter words" → WordPiece: before ##af ##ter | words.
  const std::string text("before\0after words", 18);
  EXPECT_EQ(tok->tokenize(text), (Ids{5, 6, 7, 8}));
  // Inside a special token the NUL breaks the match; cleaning then joins "[cls]" (lower-cased
  // first) → punctuation split: [ cls ].
  EXPECT_EQ(tok->tokenize(std::string("[CL\0S]", 6)), (Ids{15, 17, 16}));
}

TEST(BertTokenizer, EveryOtherCategoryIsDropped) {
  TempDir dir;
  auto tok = bert(dir, R"({"do_lower_case": true})");
  // U+F8FF, U+E000 (private use, Co) and U+0378 (unassigned, Cn) are dropped like Cc/Cf:
  // "a \xEF\xA3\xBF..." → "a  b a".
  EXPECT_EQ(tok->tokenize("a\xEF\xA3\xBF \xEE\x80\x80"
                          "b \xCD\xB8"
                          "a"),
            (Ids{9, 10, 9}));
  // Dropped controls join words: U+0085 (NEL), U+000B, U+000C are Cc, U+200B is Cf.
  EXPECT_EQ(tok->tokenize_to_strings("line\xC2\x85para"), (Strings{"line", "##para"}));
  EXPECT_EQ(tok->tokenize("a\vb a\fb a\xE2\x80\x8B"
                          "b"),
            (Ids{9, 18, 9, 18, 9, 18}));
  // U+FFFD (what invalid UTF-8 becomes) is dropped too.
  EXPECT_EQ(tok->tokenize("a\xFF"
                          "b"),
            (Ids{9, 18}));
}

TEST(BertTokenizer, PythonSplitWhitespace) {
  TempDir dir;
  auto tok = bert(dir, R"({"do_lower_case": true})");
  // U+2028 / U+2029 survive _clean_text (Zl, Zp: neither control nor Zs) and str.split() splits
  // on them.
  EXPECT_EQ(tok->tokenize("line\xE2\x80\xA8para\xE2\x80\xA9"
                          "a"),
            (Ids{11, 12, 9}));
  // Zs (U+00A0, U+3000) and tab / newline / carriage return become spaces.
  EXPECT_EQ(tok->tokenize("a\xC2\xA0"
                          "b\xE3\x80\x80"
                          "a\tb\na\rb"),
            (Ids{9, 10, 9, 10, 9, 10}));
}

TEST(BertTokenizer, SpecialTokensInRawText) {
  TempDir dir;
  auto tok = bert(dir, R"({"do_lower_case": true})");
  // Lower-casing skips exact special tokens; the trie cuts at them, even inside words:
  // ["[CLS]", " a ", "[SEP]", "b", "[MASK]", " ", "[UNK]", "[PAD]"].
  EXPECT_EQ(tok->tokenize("[CLS] a [SEP]b[MASK] [UNK][PAD]"), (Ids{2, 9, 3, 10, 4, 1, 0}));
  EXPECT_EQ(tok->tokenize_to_strings("A[CLS]B"), (Strings{"a", "[CLS]", "b"}));
  // Other spellings are text: "[cls]", "[Cls]" → [ cls ].
  EXPECT_EQ(tok->tokenize("[cls] [Cls]"), (Ids{15, 17, 16, 15, 17, 16}));
  auto e = tok->encode("a [SEP] b", 8);
  EXPECT_EQ(e.ids, (std::vector<int32_t>{2, 9, 3, 10, 3, 0, 0, 0}));
  EXPECT_EQ(e.length, 5);
}

TEST(BertTokenizer, LowerCaseAndAccents) {
  TempDir dir;
  auto tok = bert(dir, R"({"do_lower_case": true})");
  // "Café" → "café" → NFD, Mn dropped → "cafe"; "CAFE\u0301" (decomposed) → the same.
  EXPECT_EQ(tok->tokenize("Caf\xC3\xA9 CAFE\xCC\x81"), (Ids{13, 13}));
  // Python's lower() maps U+0130 to "i" + U+0307; accent stripping removes U+0307.
  EXPECT_EQ(tok->tokenize("\xC4\xB0"), (Ids{14}));
  // Without accent stripping the U+0307 stays: "i" + "##\u0307".
  TempDir keep;
  auto accents = bert(keep, R"({"do_lower_case": true, "strip_accents": false})");
  EXPECT_EQ(accents->tokenize("\xC4\xB0"), (Ids{14, 21}));
  EXPECT_NE(accents->fingerprint(), tok->fingerprint());
}

TEST(BertTokenizer, AddedTokenFlagsFromTheConfig) {
  TempDir dir;
  auto tok = bert(dir, R"({"do_lower_case": true,
      "additional_special_tokens": [{"content": "<e>", "rstrip": true, "lstrip": false}]})");
  // ["a ", "<e>", "  b"]; rstrip eats the spaces of "  b".
  EXPECT_EQ(tok->tokenize_to_strings("a <e>  b"), (Strings{"a", "<e>", "b"}));
  // "<E>" is not protected from lower-casing, and the lower-cased "<e>" then is the token.
  EXPECT_EQ(tok->tokenize("a<E>"), (Ids{9, 20}));
}

TEST(BertTokenizer, UnicodeVersionOfTheTables) {
  TempDir dir;
  auto tok = bert(dir, R"({"do_lower_case": true})");
  // U+1FAE8 (SHAKING FACE) was assigned in Unicode 15. utf8proc 2.8 (Unicode 15, as Python 3.12)
  // sees a symbol: the word "a\U0001FAE8b" cannot be covered → [UNK]. Python 3.11 (Unicode 14,
  // the reference's transformers) sees an unassigned code point, drops it and gives a ##b.
  EXPECT_EQ(tok->tokenize("a\xF0\x9F\xAB\xA8"
                          "b"),
            (Ids{1}));
}

TEST(Tokenizer, FastBpeVocabulariesAreRefused) {
  TempDir dir;
  write_file(dir / "vocab.txt", "hello 12\nworld 7\n");  // vinai/bertweet-base's layout
  write_file(dir / "bpe.codes", "h e 5\n");
  try {
    Tokenizer::load(dir.path().string());
    FAIL() << "a fastBPE directory was read as WordPiece";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("bpe.codes"), std::string::npos) << e.what();
  }
}

TEST(BertTokenizer, VocabularyFileAsPythonReadsIt) {
  TempDir dir;
  // Universal newlines ("\r\n" and a lone "\r" end lines) and a later duplicate wins.
  write_file(dir / "vocab.txt", "[PAD]\r\n[UNK]\r[CLS]\n[SEP]\nx\nx\n");
  auto tok = Tokenizer::load(dir.path().string());
  EXPECT_EQ(tok->tokenize("x"), (Ids{5}));
  EXPECT_EQ(tok->vocab_size(), 6);
  EXPECT_EQ(tok->tokenize("[MASK]"), (Ids{1, 1, 1}));  // no [MASK] in this vocabulary: text
}

// vocab.json: "Ġ" (U+0120) is the byte-level space, "ĉ" (U+0109) the tab, "â" "Ģ" "¨" the three
// bytes of U+2028.
std::unique_ptr<Tokenizer> roberta(const TempDir& dir, const std::string& config) {
  write_file(dir / "vocab.json",
             R"({"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"<mask>":4,"a":5,"b":6,"Ġb":7,"hello":8,)"
             R"("Ġ":9,"h":10,"e":11,"l":12,"o":13,"he":14,"ll":15,"hell":16,"Ġhello":17,)"
             "\"\xC4\x89\":18,\"\xC3\xA2\":19,\"\xC4\xA2\":20,\"\xC2\xA8\":21}");
  write_file(dir / "merges.txt",
             "#version: 0.2\nh e\nl l\nhe ll\nhell o\n\xC4\xA0 b\n\xC4\xA0 hello\n");
  write_file(dir / "tokenizer_config.json", config);
  return Tokenizer::load(dir.path().string());
}

TEST(RobertaTokenizer, MaskEatsTheSpaceOnItsLeft) {
  TempDir dir;
  auto tok = roberta(dir, "{}");
  // Trie: ["a ", "<mask>", " b"]; <mask> has lstrip: "a " → "a"; " b" → "Ġb".
  EXPECT_EQ(tok->tokenize_to_strings("a <mask> b"), (Strings{"a", "<mask>",
                                                             "\xC4\xA0"
                                                             "b"}));
  EXPECT_EQ(tok->tokenize("a <mask> b"), (Ids{5, 4, 7}));
  EXPECT_EQ(tok->tokenize("a<mask>b"), (Ids{5, 4, 6}));
  EXPECT_EQ(tok->tokenize(" <mask>"), (Ids{4}));  // the stripped left part is empty: skipped
  // The other special tokens keep their neighbours' spaces.
  EXPECT_EQ(tok->tokenize("<s>hello </s> b"), (Ids{0, 8, 9, 2, 7}));
  EXPECT_EQ(tok->encode("<mask>", 5).ids, (std::vector<int32_t>{0, 4, 2, 1, 1}));
}

TEST(RobertaTokenizer, WhiteSpaceOfThePattern) {
  TempDir dir;
  auto tok = roberta(dir, "{}");
  // U+2028 is \s: " \u2028" is a run of two followed by "h", so \s+(?!\S) takes " " and \s+
  // takes U+2028 (bytes E2 80 A8 → â Ģ ¨), then "hello" without Ġ.
  EXPECT_EQ(tok->tokenize("hello \xE2\x80\xA8hello"), (Ids{8, 9, 19, 20, 21, 8}));
}

TEST(RobertaTokenizer, PrefixSpaceFollowsPythonIsspace) {
  TempDir dir;
  auto tok = roberta(dir, R"({"add_prefix_space": true})");
  EXPECT_EQ(tok->tokenize("hello"), (Ids{17}));       // " hello" → Ġhello
  EXPECT_EQ(tok->tokenize("\thello"), (Ids{18, 8}));  // "\t".isspace(): no prefix; ĉ hello
}

TEST(RobertaTokenizer, MergesFileAsTransformersReadsIt) {
  TempDir dir;
  auto tok = roberta(dir, "{}");
  EXPECT_EQ(tok->tokenize("hell"), (Ids{16}));  // h e → he, l l → ll, he ll → hell
  // read().split("\n")[1:-1]: the first line is skipped even when it is a merge, and the last
  // one too when the file does not end with a newline.
  write_file(dir / "merges.txt", "h e\nl l\nhe ll");
  auto cut = Tokenizer::load(dir.path().string());
  EXPECT_EQ(cut->tokenize("hell"), (Ids{10, 11, 15}));  // only "l l" is left
}

}  // namespace
}  // namespace mmaux::data
