// Each raw reader on a small fixture written by hand in that data set's distributed layout,
// including the layout's known defects. The fixtures then go through the whole pipeline.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "mmaux/data/manifest.h"
#include "mmaux/data/preprocess.h"
#include "preprocessing/fixture_util.h"
#include "readers.h"
#include "support/test_support.h"

namespace mmaux::preprocessing {
using mmaux::testing::TempDir;
using mmaux::testing::write_file;
using mmaux::testing::write_image;
namespace fs = std::filesystem;

namespace {

const data::RawPost* find(const data::RawDataset& d, const std::string& id) {
  for (const auto& p : d.posts) {
    if (p.post_id == id) return &p;
  }
  return nullptr;
}

std::map<std::string, std::string> skip_reasons(const data::RawDataset& d) {
  std::map<std::string, std::string> out;
  for (const auto& s : d.skipped) out[s.post_id] = s.reason;
  return out;
}

std::map<std::string, std::string> filter_reasons(const data::RawDataset& d) {
  std::map<std::string, std::string> out;
  for (const auto& s : d.filtered) out[s.post_id] = s.reason;
  return out;
}

/// Copies a committed raw-layout fixture (tests/data/raw/<name>) into `dir`.
void copy_fixture(const std::string& name, const fs::path& dir) {
  fs::create_directories(dir);
  fs::copy(mmaux::testing::source_dir() / "tests/data/raw" / name, dir,
           fs::copy_options::recursive);
}

/// Runs the pipeline and checks that the counts add up; returns the report.
data::PreprocessReport run(const std::string& dataset, const TempDir& tmp) {
  auto model = tmp / "model";
  mmaux::testing::write_tiny_model(model);
  auto o = mmaux::testing::preprocess_options(dataset, tmp / "raw", tmp / "out", model);
  auto report = data::run_preprocess(o, read_raw_dataset(o));
  EXPECT_EQ(report.read, report.written + report.filtered + report.skipped) << report.summary();
  auto m = data::Manifest::load((tmp / "out").string());
  EXPECT_EQ(m.dataset(), dataset);
  return report;
}

}  // namespace

TEST(PythonList, ParsesMsdLines) {
  std::vector<std::string> items;
  ASSERT_TRUE(parse_python_list(R"(['905', 'why <user> didn \'t " so " # x', 1])", items));
  EXPECT_EQ(items, (std::vector<std::string>{"905", "why <user> didn 't \" so \" # x", "1"}));
  ASSERT_TRUE(parse_python_list(R"(['8', "it 's here", 1, 0])", items));
  EXPECT_EQ(items.size(), 4u);
  EXPECT_EQ(items[1], "it 's here");
  EXPECT_FALSE(parse_python_list("['unterminated, 1]", items));
  EXPECT_FALSE(parse_python_list("not a list", items));
  // Python 3's escapes: \n is a newline, \uXXXX a code point, \\ one backslash, an unknown escape
  // keeps its backslash; a bad \x escape or text after the list is malformed.
  ASSERT_TRUE(parse_python_list(R"(['1', 'a <3\n<url> \u2060 \\ \m \x41', 0])", items));
  EXPECT_EQ(items[1], "a <3\n<url> \xE2\x81\xA0 \\ \\m A");
  EXPECT_FALSE(parse_python_list(R"(['1', 'bad \x4', 0])", items));
  EXPECT_FALSE(parse_python_list(R"(['1', 'surrogate \ud800', 0])", items));
  EXPECT_FALSE(parse_python_list("['1', 'x', 0] trailing", items));
  ASSERT_TRUE(parse_python_list("['1', 'x', 0,]\r", items));  // trailing comma, CR
  EXPECT_EQ(items.size(), 3u);
}

// Python's str.split(): every Unicode whitespace separates words, not only spaces.
TEST(PythonList, SplitsOnWhitespaceAsPython) {
  // (String pieces keep each \x escape to its two digits.)
  EXPECT_EQ(python_split("  a b\tc\nd\x0b"
                         "e\x0c"
                         "f\x1c"
                         "g  "),
            (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g"}));
  // U+00A0, U+2003 and U+3000 separate; U+2060 (word joiner) and U+200B are not whitespace.
  const std::string nbsp = "\xC2\xA0", em = "\xE2\x80\x83", ideo = "\xE3\x80\x80",
                    joiner = "\xE2\x81\xA0", zwsp = "\xE2\x80\x8B";
  EXPECT_EQ(python_split("a" + nbsp + "b" + em + "c" + ideo + "d" + joiner + "e" + zwsp + "f"),
            (std::vector<std::string>{"a", "b", "c", "d" + joiner + "e" + zwsp + "f"}));
  EXPECT_TRUE(python_split(" \n ").empty());
  EXPECT_EQ(python_split("\xFF \xC2"), (std::vector<std::string>{"\xFF", "\xC2"}));
}

TEST(Readers, Tir) {
  TempDir tmp("mmaux-tir");
  auto raw = tmp / "raw";
  // Every field quoted; row 3 breaks the quoting (a bare comma inside the tweet makes an extra
  // field); row 4 has no positive class column; T400's image is missing.
  write_file(
      raw / "textimage-data.csv",
      R"("tweet_id","user_id","tweet","text_is_represented","image_adds","image_adds_text_repr","image_adds_text_notrepr","image_notadds_text_repr","image_notadds_text_notrepr")"
      "\n"
      R"("100","540310244","happy birthday ily @victoriaIeigh https://t.co/K86xqfc3g3","0","0","0","0","0","1")"
      "\n"
      R"("200","1372476151","RT @eRewardsUS: Happy Flag Day! https://t.co/boWxoYrqVn","1","1","1","0","0","0")"
      "\n"
      R"("300","42","broken "quote", here",with a comma","1","0","0","0","1","0")"
      "\n"
      R"("350","43","no label at all","0","0","0","0","0","0")"
      "\n"
      R"("400","44","image went missing","0","1","0","1","0","0")"
      "\n");
  for (const char* id : {"100", "200", "300", "350"}) write_image(raw / fmt::format("T{}.jpg", id));
  PreprocessOptions o;
  o.raw = raw.string();
  auto d = read_tir(o);
  ASSERT_EQ(d.posts.size(), 5u);
  EXPECT_EQ(find(d, "100")->label, "image_notadds_text_notrepr");
  EXPECT_EQ(find(d, "200")->label, "image_adds_text_repr");
  EXPECT_EQ(find(d, "300")->label, "image_notadds_text_repr");
  EXPECT_NE(find(d, "300")->text.find("with a comma"), std::string::npos) << find(d, "300")->text;
  EXPECT_EQ(find(d, "350")->label, "");
  EXPECT_EQ(find(d, "400")->image, "T400.jpg");
  EXPECT_EQ(find(d, "100")->split, "");  // TIR has no split: the pipeline draws one
  auto report = run("tir", tmp);
  EXPECT_EQ(report.written, 3);
  EXPECT_EQ(report.skipped_by_reason["unknown label"], 1);
  EXPECT_EQ(report.skipped_by_reason["missing image"], 1);
}

TEST(Readers, Mvsa) {
  TempDir tmp("mmaux-mvsa");
  auto raw = tmp / "raw";
  write_file(raw / "labelResultAll.txt",
             "ID\ttext,image\n"
             "1\tpositive,positive\n"
             "2\tneutral,negative\n"
             "3\tpositive,neutral\n"
             "4\tpositive,negative\n"
             "5\tneutral,neutral\n"
             "6 no tab here\n");
  // Latin-1 text with a second line that must be ignored.
  write_file(raw / "data/1.txt",
             "Caf\xE9 time with @bob \xA3"
             "5\nsecond line ignored\n");
  write_file(raw / "data/2.txt", "rainy day\r\n");
  write_file(raw / "data/3.txt", "sunny");
  write_file(raw / "data/4.txt", "mixed feelings");
  write_file(raw / "data/5.txt", "");  // empty text
  for (int i = 1; i <= 5; ++i) write_image(raw / fmt::format("data/{}.jpg", i));
  PreprocessOptions o;
  o.raw = raw.string();
  auto d = read_mvsa(o);
  ASSERT_EQ(d.posts.size(), 4u);
  EXPECT_EQ(find(d, "1")->text,
            "Caf\xC3\xA9 time with @bob \xC2\xA3"
            "5");
  EXPECT_EQ(find(d, "1")->label, "positive");
  EXPECT_EQ(find(d, "2")->label, "negative");
  EXPECT_EQ(find(d, "2")->text, "rainy day");
  EXPECT_EQ(find(d, "3")->label, "positive");
  EXPECT_EQ(find(d, "5")->label, "neutral");
  // Positive against negative is the data set's rule (filtered), a row without a tab is broken
  // (skipped).
  EXPECT_EQ(filter_reasons(d), (std::map<std::string, std::string>{{"4", "conflicting labels"}}));
  EXPECT_EQ(skip_reasons(d),
            (std::map<std::string, std::string>{{"6 no tab here", "malformed row"}}));
  auto report = run("mvsa", tmp);
  EXPECT_EQ(report.written, 3);
  EXPECT_EQ(report.filtered, 1);
  EXPECT_EQ(report.filtered_by_reason["conflicting labels"], 1);
  EXPECT_EQ(report.skipped_by_reason["empty text"], 1);
  EXPECT_EQ(report.skipped_by_reason.count("conflicting labels"), 0u);
  EXPECT_EQ(report.skipped, 2);
  EXPECT_EQ(report.read, 6);
}

TEST(Readers, Mhp) {
  TempDir tmp("mmaux-mhp");
  auto raw = tmp / "raw";
  const std::string header = "image_number,tweet_text,img_text,Primary_numeric_gt\n";
  write_file(raw / "Data/Train/dog_whistle_train.csv",
             header +
                 "11,look at this,\"OCR TEXT, WITH COMMA\",1\n12,counter speech,,2\n"
                 "13,what label,,7\n");
  write_file(raw / "Data/Validation/dog_whistle_dev.csv",
             header + "21,nothing here,meme words,0\n");
  write_file(raw / "Data/Test/dog_whistle_test.csv", header + "31,reclaimed,,3\n32,gone,,0\n");
  for (const char* id : {"11", "12", "13", "21", "31"}) {
    write_image(raw / fmt::format("Data/Images/{}.jpg", id));
  }
  PreprocessOptions o;
  o.raw = raw.string();
  auto d = read_mhp(o);
  ASSERT_EQ(d.posts.size(), 6u);
  EXPECT_EQ(find(d, "11")->text, "look at this OCR TEXT, WITH COMMA");
  EXPECT_EQ(find(d, "11")->label, "hateful");
  EXPECT_EQ(find(d, "11")->split, "train");
  EXPECT_EQ(find(d, "12")->text, "counter speech");
  EXPECT_EQ(find(d, "21")->split, "validation");
  EXPECT_EQ(find(d, "31")->label, "reclaimed");
  EXPECT_EQ(find(d, "31")->split, "test");
  auto report = run("mhp", tmp);
  EXPECT_EQ(report.written, 4);
  EXPECT_EQ(report.skipped_by_reason["unknown label"], 1);  // 13: label 7
  EXPECT_EQ(report.skipped_by_reason["missing image"], 1);  // 32
  EXPECT_EQ(report.written_by_split["validation"], 1);
}

// Real lines of MSD's text files (tests/data/raw/README.md): single and double quotes, \' escapes,
// \\ and \u2060 escapes, CRLF line ends, and the training post whose "<url>" follows "<3\n": the
// data set's keyword filter sees it because Python's str.split() splits at the newline.
TEST(Readers, MsdRealLines) {
  TempDir tmp("mmaux-msd");
  auto raw = tmp / "raw";
  copy_fixture("msd", raw);
  const char* kept[] = {"840006160660983809", "905134014893195264", "693494117452480512",
                        "822954242310696960", "829251307672305665", "915657464401580032",
                        "854678856724340736", "904892917277274112", "862902619928506372",
                        "892551658487631873", "853143461360480256"};
  for (const char* id : kept) write_image(raw / fmt::format("dataset_image/{}.jpg", id));
  // 823309471464259589 (a test post) has no image, as some of MSD's posts.
  PreprocessOptions o;
  o.raw = raw.string();
  auto d = read_msd(o);
  EXPECT_TRUE(d.skipped.empty());
  EXPECT_EQ(filter_reasons(d),
            (std::map<std::string, std::string>{{"910308516510011393", "keyword filter"},
                                                {"725333760762363905", "keyword filter"},
                                                {"926877246039699461", "keyword filter"},
                                                {"820419124526354432", "keyword filter"}}));
  ASSERT_EQ(d.posts.size(), 12u);
  EXPECT_EQ(find(d, "905134014893195264")->text.substr(0, 35),
            "asked my hubby why <user> didn 't h");
  EXPECT_NE(find(d, "693494117452480512")->text.find("$ 10 \\ food"), std::string::npos);
  EXPECT_EQ(find(d, "829251307672305665")->text.substr(0, 4), "\xE2\x81\xA0 ");  // U+2060
  EXPECT_EQ(find(d, "822954242310696960")->label, "not sarcastic");
  EXPECT_EQ(find(d, "915657464401580032")->label, "sarcastic");  // the last field
  EXPECT_EQ(find(d, "823309471464259589")->label, "not sarcastic");
  EXPECT_EQ(find(d, "823309471464259589")->split, "test");
  EXPECT_EQ(find(d, "854678856724340736")->split, "validation");
  auto report = run("msd", tmp);
  EXPECT_EQ(report.read, 16);
  EXPECT_EQ(report.written, 11);
  EXPECT_EQ(report.filtered_by_reason, (std::map<std::string, int64_t>{{"keyword filter", 4}}));
  EXPECT_EQ(report.skipped_by_reason, (std::map<std::string, int64_t>{{"missing image", 1}}));
  EXPECT_EQ(report.written_by_split,
            (std::map<std::string, int64_t>{{"train", 5}, {"validation", 3}, {"test", 3}}));
  // With every image present, the default options succeed although the keyword filter removes a
  // quarter of the rows (as it removes 9,224 of MSD's 33,859): filtered posts are not skips.
  write_image(raw / "dataset_image/823309471464259589.jpg");
  auto defaults =
      mmaux::testing::preprocess_options("msd", raw, tmp / "out-defaults", tmp / "model");
  defaults.max_skip_fraction = PreprocessOptions{}.max_skip_fraction;
  auto all = data::run_preprocess(defaults, read_raw_dataset(defaults));
  EXPECT_EQ(all.written, 12);
  EXPECT_EQ(all.filtered, 4);
  EXPECT_TRUE(fs::exists(tmp / "out-defaults/manifest.json"));
}

// Hand-written lines in MSD's layout for what the real files do not show: whole-word matching
// and a broken line.
TEST(Readers, MsdKeywordsAreWholeWordsAndBrokenLinesSkipped) {
  TempDir tmp("mmaux-msd");
  auto raw = tmp / "raw";
  write_file(raw / "text/train.txt",
             "['111', 'what a joke of a day', 0]\n"
             "['112', 'a jokester is fine', 0]\n"
             "['113', 'humour\\tafter a tab', 0]\n"
             "['114', broken line\n");
  write_file(raw / "text/valid2.txt", "['115', 'sarcasm in validation is kept', 1, 0]\n");
  write_file(raw / "text/test2.txt", "");
  PreprocessOptions o;
  o.raw = raw.string();
  auto d = read_msd(o);
  EXPECT_EQ(filter_reasons(d), (std::map<std::string, std::string>{{"111", "keyword filter"},
                                                                   {"113", "keyword filter"}}));
  EXPECT_EQ(skip_reasons(d), (std::map<std::string, std::string>{{"114", "malformed row"}}));
  ASSERT_NE(find(d, "112"), nullptr);  // "jokester" is not "joke"
  ASSERT_NE(find(d, "115"), nullptr);  // the filter is the training set's
}

// Real rows of TIR's textimage-data.csv (tests/data/raw/README.md): quotes inside tweets are
// escaped as \", which Python's csv module (the paper's reader) does not know; the last two rows
// end their tweet with \" and came out of it with 8 fields.
TEST(Readers, TirRealRowsWithEscapedQuotes) {
  TempDir tmp("mmaux-tir");
  auto raw = tmp / "raw";
  copy_fixture("tir", raw);
  PreprocessOptions o;
  o.raw = raw.string();
  auto d = read_tir(o);
  EXPECT_TRUE(d.skipped.empty());
  ASSERT_EQ(d.posts.size(), 8u);
  for (const auto& p : d.posts) write_image(raw / p.image);
  EXPECT_EQ(find(d, "689161440901607424")->text,
            "This is my \"I am so done with everything\" face https://t.co/SzKzjNalqc");
  EXPECT_EQ(find(d, "689161440901607424")->label, "image_notadds_text_repr");
  EXPECT_EQ(find(d, "723200410656247810")->text.rfind("RT @GMA: \"Dearly beloved, we are", 0), 0u);
  EXPECT_EQ(find(d, "726209355679289344")->text.rfind("\"Mama, do I look like @JohnCena ?\" ", 0),
            0u);
  EXPECT_EQ(find(d, "683607683983781889")->text,
            "RT @iamblaqshuga: @PostMalone says his debut album is arriving in March  "
            "https://t.co/Ulw6fhJvMJ https://t.co/qZuALoNGSo\"");
  EXPECT_EQ(find(d, "683607683983781889")->label, "image_notadds_text_notrepr");
  EXPECT_EQ(find(d, "700335862714920960")->label, "image_notadds_text_notrepr");
  EXPECT_EQ(find(d, "686751909684744193")->text.rfind("@MadmanWithABook  Qt\"@MeTV: ", 0), 0u);
  auto report = run("tir", tmp);
  EXPECT_EQ(report.written, 8);
  EXPECT_EQ(report.skipped, 0);
}

TEST(Readers, Micd) {
  TempDir tmp("mmaux-micd");
  auto raw = tmp / "raw";
  write_file(raw / "data_key_mic.csv",
             "id,domain,year,month,label,split\n"
             "1295433508505214976,food,2020,8,1,train\n"
             "1330966247878496257,travel,2020,11,0,train\n"
             "1112356848433315842,beauty,2019,4,0,test\n"
             "1164583383978192898,food,2019,8,1,val\n"
             "1200000000000000000,food,2019,8\n");
  write_file(raw / "texts/1295433508505214976.txt", "new recipe with #ad @brand\n");
  write_file(raw / "texts/1330966247878496257.txt", "sunset in lisbon");
  write_file(raw / "texts/1164583383978192898.txt", "tasty");
  for (const char* id : {"1295433508505214976", "1330966247878496257", "1112356848433315842",
                         "1164583383978192898"}) {
    write_image(raw / fmt::format("images/{}_1.jpg", id));
  }
  PreprocessOptions o;
  o.raw = raw.string();
  auto d = read_micd(o);
  ASSERT_EQ(d.posts.size(), 4u);
  EXPECT_EQ(find(d, "1295433508505214976")->label, "commercial");
  EXPECT_EQ(find(d, "1295433508505214976")->text, "new recipe with #ad @brand");
  EXPECT_EQ(find(d, "1295433508505214976")->meta, (std::vector<std::string>{"food", "2020", "8"}));
  EXPECT_EQ(skip_reasons(d)["1200000000000000000"], "malformed row");
  auto report = run("micd", tmp);
  EXPECT_EQ(report.written, 3);
  EXPECT_EQ(report.skipped_by_reason["empty text"], 1);  // no text obtained for ...842
  EXPECT_EQ(report.written_by_split["validation"], 1);   // "val" is the validation split
}

}  // namespace mmaux::preprocessing
