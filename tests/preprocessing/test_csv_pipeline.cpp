// The generic csv layout through the whole pipeline, with every skip reason produced by a real
// broken file or row.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "mmaux/core/csv.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/data/loader.h"
#include "mmaux/data/manifest.h"
#include "mmaux/data/preprocess.h"
#include "mmaux/data/shard.h"
#include "preprocessing/fixture_util.h"
#include "readers.h"
#include "support/test_support.h"

namespace mmaux::preprocessing {
using mmaux::testing::TempDir;
using mmaux::testing::write_file;
using mmaux::testing::write_image;
namespace fs = std::filesystem;

namespace {

struct CsvFixture {
  TempDir tmp{"mmaux-csv"};
  fs::path raw = tmp / "raw";
  fs::path out = tmp / "out";
  fs::path model = tmp / "model";

  CsvFixture() {
    mmaux::testing::write_tiny_model(model);
    for (int i = 1; i <= 12; ++i) write_image(raw / "images" / fmt::format("ok{}.jpg", i), 20 * i);
    write_image(raw / "images/ok.png", 77);
    write_image(tmp / "outside.jpg");  // exists, but outside the raw directory
    write_image(raw / "images/full.jpg");
    auto jpeg = mmaux::testing::read_file(raw / "images/full.jpg");
    write_file(raw / "images/truncated.jpg", jpeg.substr(0, jpeg.size() / 2));
    write_file(raw / "images/zero.png", "");
    write_file(raw / "images/text.jpg", "I am a text file with a .jpg name\n");
    write_file(raw / "posts.csv",
               "post_id,text,label,split,image\n"
               "p1,a good day @friend http://x.co/1,pos,train,images/ok1.jpg\n"
               "p2,\"quoted, with \"\"quotes\"\" inside\",neg,train,images/ok.png\n"
               "p3,He said \"hi\" there,pos,train,images/ok2.jpg\n"
               "p4,no picture,pos,train,images/none.jpg\n"
               "p5,cut short,neg,train,images/truncated.jpg\n"
               "p6,zero bytes,neg,train,images/zero.png\n"
               "p7,not an image,pos,train,images/text.jpg\n"
               "p8,   ,pos,train,images/ok3.jpg\n"
               "p9,no label,,train,images/ok4.jpg\n"
               "p1,same id again,pos,train,images/ok5.jpg\n"
               "p10,sneaky,neg,train,../outside.jpg\n"
               "p11,\xFF\xFE\xFD\xFC\xFB,neg,train,images/ok6.jpg\n"
               "p12,caf\xE9 is a nice place to sit,neg,test,images/ok7.jpg\n"
               "p13,too,many,fields,here,x\n"
               "p14,plain text,pos,validation,images/ok8.jpg\n"
               "p15,more text,neg,validation,images/ok9.jpg\n"
               "p16,random split,pos,,images/ok10.jpg\n"
               "p17,another one,neg,test,images/ok11.jpg\n");
  }
};

}  // namespace

TEST(CsvPipeline, EveryPostIsWrittenOrSkippedWithItsReason) {
  CsvFixture f;
  auto o = mmaux::testing::preprocess_options("csv", f.raw, f.out, f.model);
  auto report = data::run_preprocess(o, read_raw_dataset(o));
  EXPECT_EQ(report.read, 18);
  EXPECT_EQ(report.read, report.written + report.skipped);
  std::map<std::string, int64_t> expected{{"missing image", 1}, {"undecodable image", 3},
                                          {"empty text", 1},    {"unknown label", 1},
                                          {"duplicate id", 1},  {"path escapes data directory", 1},
                                          {"invalid UTF-8", 1}, {"malformed row", 1}};
  EXPECT_EQ(report.skipped_by_reason, expected) << report.summary();
  EXPECT_EQ(report.written, 8);
  EXPECT_EQ(report.utf8_repaired, 1);  // p12's Latin-1 byte, repaired

  auto skipped = parse_csv(read_whole_file((f.out / "skipped.csv").string()));
  ASSERT_EQ(skipped.size(), 11u);  // header + 10
  std::map<std::string, std::string> reason_of;
  for (size_t i = 1; i < skipped.size(); ++i)
    reason_of[skipped[i].fields[0]] = skipped[i].fields[2];
  EXPECT_EQ(reason_of["p4"], "missing image");
  EXPECT_EQ(reason_of["p5"], "undecodable image");
  EXPECT_EQ(reason_of["p6"], "undecodable image");
  EXPECT_EQ(reason_of["p7"], "undecodable image");
  EXPECT_EQ(reason_of["p10"], "path escapes data directory");
  EXPECT_EQ(reason_of["p11"], "invalid UTF-8");
  EXPECT_EQ(skipped[1].fields[1].rfind("posts.csv:", 0), 0u);

  auto m = data::Manifest::load(f.out.string());
  EXPECT_EQ(m.class_names(), (std::vector<std::string>{"neg", "pos"}));
  int64_t total = 0;
  for (const auto& s : m.split_names()) total += m.split_size(s);
  EXPECT_EQ(total, 8);
  const std::string p16 = data::random_split("p16", o.seed, {0.8, 0.1, 0.1});
  EXPECT_EQ(m.split_size("train"), 3 + (p16 == "train"));
  EXPECT_EQ(m.split_size("validation"), 2 + (p16 == "validation"));
  EXPECT_EQ(m.split_size("test"), 2 + (p16 == "test"));
  EXPECT_EQ(m.text_max_length(), 12);
  EXPECT_EQ(m.image_preset().to_string(), "fixed:16");
  // The quoted text survived the CSV and the pipeline; the loader reads every written post.
  data::LoaderOptions lo;
  lo.split = "train";
  lo.global_batch_size = 2;
  lo.drop_last = false;
  lo.shuffle = false;
  data::Loader loader(m, lo);
  std::vector<std::string> ids;
  while (auto b = loader.next()) ids.insert(ids.end(), b->post_ids.begin(), b->post_ids.end());
  std::vector<std::string> want{"p1", "p2", "p3"};
  if (p16 == "train") want.push_back("p16");
  EXPECT_EQ(ids, want);
}

TEST(CsvPipeline, TooManySkipsFailClearlyWithoutAManifest) {
  CsvFixture f;
  auto o = mmaux::testing::preprocess_options("csv", f.raw, f.out, f.model);
  o.max_skip_fraction = 0.05;
  try {
    data::run_preprocess(o, read_raw_dataset(o));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("--max-skip-fraction"), std::string::npos) << msg;
    EXPECT_NE(msg.find("skipped.csv"), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(f.out / "manifest.json"));
  EXPECT_TRUE(fs::exists(f.out / "skipped.csv"));
}

TEST(CsvPipeline, ReRunIsANoOpUnlessInputsChangeOrForced) {
  CsvFixture f;
  auto o = mmaux::testing::preprocess_options("csv", f.raw, f.out, f.model);
  auto first = data::run_preprocess(o, read_raw_dataset(o));
  EXPECT_FALSE(first.up_to_date);
  auto before = data::Manifest::load(f.out.string()).fingerprint();
  auto again = data::run_preprocess(o, read_raw_dataset(o));
  EXPECT_TRUE(again.up_to_date);
  o.force = true;
  auto forced = data::run_preprocess(o, read_raw_dataset(o));
  EXPECT_FALSE(forced.up_to_date);
  // Deterministic: the same inputs give byte-identical shards.
  EXPECT_EQ(data::Manifest::load(f.out.string()).fingerprint(), before);
  o.force = false;
  o.seed = 99;  // a different random split is a different output
  EXPECT_FALSE(data::run_preprocess(o, read_raw_dataset(o)).up_to_date);
}

// A csv without a label column is an unlabeled data set: "labelled": false, no classes, every
// label -1 in the shards and in the loader's batches, the usual split fractions; --classes is
// refused with it; a manifest without the field (older builds) reads as labelled.
TEST(CsvPipeline, PostsWithoutLabelsMakeAnUnlabeledDataSet) {
  TempDir tmp{"mmaux-unlabeled"};
  mmaux::testing::write_tiny_model(tmp / "model");
  std::string csv = "post_id,text,image\n";
  for (int i = 0; i < 40; ++i) {
    write_image(tmp / "raw" / "images" / fmt::format("u{}.jpg", i), 5 * i);
    csv += fmt::format("u{},post number {} here,images/u{}.jpg\n", i, i, i);
  }
  write_file(tmp / "raw" / "posts.csv", csv);
  auto o = mmaux::testing::preprocess_options("csv", tmp / "raw", tmp / "out", tmp / "model");
  o.classes = "a,b";
  EXPECT_THROW(read_raw_dataset(o), ConfigError);
  o.classes = "";
  auto report = data::run_preprocess(o, read_raw_dataset(o));
  EXPECT_EQ(report.written, 40) << report.summary();
  auto m = data::Manifest::load((tmp / "out").string());
  EXPECT_FALSE(m.labelled());
  EXPECT_EQ(m.num_classes(), 0);
  int64_t rows = 0;
  for (const auto& split : m.split_names()) {
    EXPECT_TRUE(m.class_counts(split).empty()) << split;
    rows += m.split_size(split);
    for (const auto& shard : m.split(split).shards) {
      data::ShardReader r((tmp / "out" / shard.file).string());
      for (int32_t label : r.labels()) EXPECT_EQ(label, -1) << shard.file;
    }
  }
  EXPECT_EQ(rows, 40);
  EXPECT_GT(m.split_size("train"), m.split_size("validation"));  // 0.8 / 0.1 / 0.1
  DataOptions d;
  d.dir = (tmp / "out").string();
  data::Loader loader(m, data::evaluation_loader_options(d, "train", 0, 1));
  int64_t seen = 0;
  while (auto b = loader.next()) {
    EXPECT_TRUE(b->labels.eq(-1).all().item<bool>());
    seen += b->size();
  }
  EXPECT_EQ(seen, m.split_size("train"));

  // The same manifest without the field reads as labelled (written by older builds).
  auto j = nlohmann::json::parse(mmaux::testing::read_file(tmp / "out" / "manifest.json"));
  j.erase("labelled");
  write_file(tmp / "out" / "manifest.json", j.dump(2));
  EXPECT_TRUE(data::Manifest::load((tmp / "out").string(), false).labelled());
}

TEST(CsvPipeline, RandomSplitIsSeededAndWrittenDown) {
  EXPECT_EQ(data::random_split("abc", 1, {0.8, 0.1, 0.1}),
            data::random_split("abc", 1, {0.8, 0.1, 0.1}));
  std::map<std::string, int> counts;
  for (int i = 0; i < 2000; ++i)
    counts[data::random_split(std::to_string(i), 7, {0.8, 0.1, 0.1})]++;
  EXPECT_NEAR(counts["train"], 1600, 80);
  EXPECT_NEAR(counts["test"], 200, 50);
  EXPECT_THROW(data::parse_split_fractions("0.8,0.2"), ConfigError);
  CsvFixture f;
  auto o = mmaux::testing::preprocess_options("csv", f.raw, f.out, f.model);
  data::run_preprocess(o, read_raw_dataset(o));
  auto splits = parse_csv(read_whole_file((f.out / "splits.csv").string()));
  bool found = false;
  for (const auto& r : splits) {
    if (r.fields[0] == "p16") {
      found = true;
      EXPECT_EQ(r.fields[1], data::random_split("p16", o.seed, {0.8, 0.1, 0.1}));
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(data::Manifest::load(f.out.string()).split_seed(), o.seed);
}

}  // namespace mmaux::preprocessing

namespace mmaux::preprocessing {

namespace {

// Three sentiment classes and one mistyped label among 120 posts.
struct LabelFixture {
  TempDir tmp{"mmaux-classes"};
  fs::path raw = tmp / "raw";
  fs::path model = tmp / "model";
  LabelFixture() {
    mmaux::testing::write_tiny_model(model);
    std::string csv = "post_id,text,label,split\n";
    const char* labels[] = {"negative", "neutral", "positive"};
    for (int i = 0; i < 120; ++i) {
      const std::string label = i == 7 ? "no-such-label" : labels[i % 3];
      csv += fmt::format("p{},post number {},{},train\n", i, i, label);
      write_image(raw / "images" / fmt::format("p{}.jpg", i), 2 * i);
    }
    write_file(raw / "posts.csv", csv);
  }
};

}  // namespace

// Without --classes the labels found are the classes: a mistyped label becomes a fourth class,
// which is printed with its count and named in a warning.
TEST(CsvClasses, InferredClassesWarnAboutRareOnes) {
  LabelFixture f;
  auto o = mmaux::testing::preprocess_options("csv", f.raw, f.tmp / "out", f.model);
  auto d = read_raw_dataset(o);
  EXPECT_EQ(d.class_names,
            (std::vector<std::string>{"negative", "neutral", "no-such-label", "positive"}));
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_NE(d.warnings[0].find("'no-such-label' has 1 of the 120"), std::string::npos)
      << d.warnings[0];
  EXPECT_NE(d.warnings[0].find("--classes"), std::string::npos);
  ASSERT_FALSE(d.notes.empty());
  EXPECT_NE(d.notes.back().find("negative 40, neutral 39, no-such-label 1, positive 40"),
            std::string::npos)
      << d.notes.back();
  auto report = data::run_preprocess(o, std::move(d));
  auto rep = nlohmann::json::parse(read_whole_file((f.tmp / "out/report.json").string()));
  EXPECT_EQ(rep["warnings"].size(), 1u);
  EXPECT_EQ(data::Manifest::load((f.tmp / "out").string()).num_classes(), 4);
}

// --classes declares the label set and its order: other labels are skipped with the reason.
TEST(CsvClasses, DeclaredClassesSkipOtherLabels) {
  LabelFixture f;
  auto o = mmaux::testing::preprocess_options("csv", f.raw, f.tmp / "out", f.model);
  o.classes = "positive, neutral,negative";
  auto d = read_raw_dataset(o);
  EXPECT_TRUE(d.warnings.empty());
  auto report = data::run_preprocess(o, std::move(d));
  EXPECT_EQ(report.written, 119);
  EXPECT_EQ(report.skipped_by_reason, (std::map<std::string, int64_t>{{"unknown label", 1}}));
  auto skipped = parse_csv(read_whole_file((f.tmp / "out/skipped.csv").string()));
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[1].fields[0], "p7");
  EXPECT_EQ(skipped[1].fields[3],
            "label 'no-such-label' is not one of the classes (positive, neutral, negative)");
  auto m = data::Manifest::load((f.tmp / "out").string());
  EXPECT_EQ(m.class_names(), (std::vector<std::string>{"positive", "neutral", "negative"}));
  o.classes = "a,,b";
  EXPECT_THROW(read_raw_dataset(o), ConfigError);
  o.classes = "a,b,a";
  EXPECT_THROW(read_raw_dataset(o), ConfigError);
}

// MVSA's rule (positive against negative) removes 4 of 10 posts: filtered, with its own count
// and reason, and not data loss: the default --max-skip-fraction passes. A missing image is
// skipped, and counts against the posts the rules keep.
TEST(Filtered, DataSetRulesAreNotCountedAsSkips) {
  TempDir tmp("mmaux-filtered");
  auto raw = tmp / "raw";
  auto model = tmp / "model";
  mmaux::testing::write_tiny_model(model);
  std::string labels = "ID\ttext,image\n";
  for (int i = 1; i <= 10; ++i) {
    labels += fmt::format("{}\t{}\n", i, i <= 4 ? "positive,negative" : "neutral,positive");
    write_file(raw / fmt::format("data/{}.txt", i), fmt::format("post {}", i));
    write_image(raw / fmt::format("data/{}.jpg", i));
  }
  write_file(raw / "labelResultAll.txt", labels);
  auto o = mmaux::testing::preprocess_options("mvsa", raw, tmp / "out", model);
  o.max_skip_fraction = 0.05;
  auto report = data::run_preprocess(o, read_raw_dataset(o));
  EXPECT_EQ(report.read, 10);
  EXPECT_EQ(report.written, 6);
  EXPECT_EQ(report.filtered, 4);
  EXPECT_EQ(report.skipped, 0);
  EXPECT_NE(report.summary().find("read 10 = written 6 + filtered 4 (conflicting labels 4) + "
                                  "skipped 0"),
            std::string::npos)
      << report.summary();
  auto rep = nlohmann::json::parse(read_whole_file((tmp / "out/report.json").string()));
  EXPECT_EQ(rep["filtered"], 4);
  EXPECT_EQ(rep["filtered_by_reason"]["conflicting labels"], 4);
  EXPECT_EQ(rep["skipped"], 0);
  auto skipped = parse_csv(read_whole_file((tmp / "out/skipped.csv").string()));
  ASSERT_EQ(skipped.size(), 5u);
  EXPECT_EQ(skipped[0].fields,
            (std::vector<std::string>{"post_id", "source", "reason", "detail", "outcome"}));
  EXPECT_EQ(skipped[1].fields[2], "conflicting labels");
  EXPECT_EQ(skipped[1].fields[4], "filtered");
  EXPECT_TRUE(fs::exists(tmp / "out/manifest.json"));

  // One of the 6 posts the rule keeps loses its image: 1/6 > 5 % (1/10 would pass).
  fs::remove(raw / "data/5.jpg");
  o.out = (tmp / "out2").string();
  auto msg = mmaux::testing::message_of([&] { data::run_preprocess(o, read_raw_dataset(o)); });
  EXPECT_NE(msg.find("1 of 6 posts (16.7%) were skipped"), std::string::npos) << msg;
  EXPECT_NE(msg.find("filtered posts"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp / "out2/manifest.json"));
}

}  // namespace mmaux::preprocessing
