// Preprocessing on W ranks (real MPI at 1, 2 and 4 ranks, and 1, 2 and 4 thread ranks) against
// one process on the same raw data set: the same shard files (name, rows, bytes), the same
// content (post ids, labels, sample indices, token ids, pixels), the same manifest, skip report
// and splits. The data set is cut into many shard units (shard size 4), with posts skipped in the
// middle of units (broken, missing and hostile images, unknown labels, duplicate ids), so that
// ranks write shards whose sample indices start beyond what they wrote themselves; and a re-run
// at W ranks is a no-op.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "mmaux/core/csv.h"
#include "mmaux/core/files.h"
#include "mmaux/data/manifest.h"
#include "mmaux/data/preprocess.h"
#include "mmaux/data/regions.h"
#include "mmaux/data/shard.h"
#include "preprocessing/fixture_util.h"
#include "rank_exchange.h"
#include "readers.h"
#include "support/collective_test.h"
#include "support/test_support.h"

namespace mmaux::preprocessing {
using mmaux::testing::write_file;
using mmaux::testing::write_image;
namespace fs = std::filesystem;

namespace {

// 45 posts over three splits with every kind of skip, in `dir`/raw; the model in `dir`/model.
void write_fixture(const fs::path& dir) {
  mmaux::testing::write_tiny_model(dir / "model");
  const fs::path raw = dir / "raw";
  std::string csv = "post_id,text,label,split,image\n";
  const char* splits[] = {"train", "train", "validation", "test", ""};
  for (int i = 0; i < 45; ++i) {
    const std::string id = fmt::format("p{:02d}", i);
    std::string image = fmt::format("images/{}.jpg", id);
    if (i % 7 == 3) {
      write_file(raw / image, "not an image");  // undecodable
    } else if (i % 11 == 5) {
      image = "images/missing.jpg";
    } else if (i == 19) {
      fs::create_directories(raw / "images");
      fs::copy_file(mmaux::testing::source_dir() / "tests/data/image_bombs/png_60000x60000.png",
                    raw / "images/bomb.png");
      image = "images/bomb.png";
    } else {
      write_image(raw / image, 5 * i);
    }
    const std::string label = i == 30 ? "mistyped" : i % 3 == 0 ? "neg" : "pos";
    csv += fmt::format("{},post {} says {},{},{},{}\n", i == 40 ? "p01" : id, i,
                       std::string(size_t(i % 5), 'x'), label, splits[i % 5], image);
  }
  write_file(raw / "posts.csv", csv);
}

PreprocessOptions options(const fs::path& dir, const std::string& out) {
  auto o = mmaux::testing::preprocess_options("csv", dir / "raw", dir / out, dir / "model");
  o.classes = "neg,pos";
  o.threads = 1;
  o.shard_size = 4;
  o.max_skip_fraction = 0.5;
  return o;
}

// Every column of two shards, and their bytes.
void expect_same_shard(const fs::path& a, const fs::path& b) {
  SCOPED_TRACE(b.filename().string());
  EXPECT_EQ(mmaux::testing::read_file(a), mmaux::testing::read_file(b));
  data::ShardReader ra(a.string()), rb(b.string());
  ASSERT_EQ(ra.rows(), rb.rows());
  EXPECT_EQ(ra.post_ids(), rb.post_ids());
  EXPECT_EQ(ra.labels(), rb.labels());
  EXPECT_EQ(ra.sample_index(), rb.sample_index());
  EXPECT_EQ(ra.input_ids(), rb.input_ids());
  EXPECT_EQ(ra.image_hw(), rb.image_hw());
  std::vector<uint8_t> pa(size_t(ra.pixel_row_bytes())), pb(pa.size());
  for (int64_t r = 0; r < ra.rows(); ++r) {
    ra.read_pixels(r, pa.data(), int64_t(pa.size()));
    rb.read_pixels(r, pb.data(), int64_t(pb.size()));
    EXPECT_EQ(pa, pb) << "row " << r;
  }
}

// Region features (F = 4) for the fixture's posts in `dir`/regions.h5: post i has i % 37
// regions; p02 and p08 have none in the file, p04 a box outside [0, 1].
void write_region_fixture(const fs::path& dir) {
  mmaux::testing::write_file(
      dir / "model/config.json",
      R"({"model_type": "bert", "image_size": 16, "max_text_length": 12, "visual_feat_dim": 4})");
  data::RegionFileWriter w((dir / "regions.h5").string());
  for (int i = 0; i < 45; ++i) {
    if (i == 2 || i == 8) continue;
    data::RegionFeatures r;
    r.count = i % 37;
    for (int q = 0; q < r.count; ++q) {
      for (int k = 0; k < 4; ++k) r.features.push_back(float(i * 100 + q * 4 + k));
      for (float v : {0.0f, q / 40.0f, 0.5f, q / 40.0f + (i == 4 ? 2.0f : 0.1f)}) {
        r.boxes.push_back(v);
      }
    }
    w.add(fmt::format("p{:02d}", i), r, 4);
  }
  w.close();
}

}  // namespace

// With region features: the same shards (their region columns included, byte for byte), skip
// report and manifest (with the features' fingerprint) at any number of ranks.
MMAUX_COLLECTIVE_TEST(PreprocessRanks, SameRegionFeaturesAtAnyNumberOfRanks, 120) {
  auto ranks = make_preprocess_ranks(comm);
  std::unique_ptr<mmaux::testing::TempDir> tmp;
  if (r == 0) {
    tmp = std::make_unique<mmaux::testing::TempDir>("mmaux-ranks");
    write_fixture(tmp->path());
    write_region_fixture(tmp->path());
  }
  const fs::path dir = ranks->all_gather(r == 0 ? tmp->path().string() : "")[0];
  const std::string out = fmt::format("regions-w{}", w);
  auto regions = data::open_region_h5((dir / "regions.h5").string());
  auto o = options(dir, out);
  auto report = data::run_preprocess(o, read_raw_dataset(o), ranks.get(), regions.get());
  ranks->all_gather("");
  if (r != 0) return;
  auto one = options(dir, "regions-1");
  auto single = data::run_preprocess(one, read_raw_dataset(one), nullptr, regions.get());
  EXPECT_EQ(single.summary(), report.summary());
  EXPECT_EQ(report.skipped_by_reason.at("missing region features"), 2);
  EXPECT_EQ(report.skipped_by_reason.at("invalid region features"), 1);
  for (const char* file : {"manifest.json", "skipped.csv", "splits.csv"}) {
    EXPECT_EQ(mmaux::testing::read_file(dir / "regions-1" / file),
              mmaux::testing::read_file(dir / out / file))
        << file;
  }
  auto m1 = data::Manifest::load((dir / "regions-1").string());
  ASSERT_TRUE(m1.has_regions());
  EXPECT_EQ(m1.regions().feature_dim, 4);
  for (const auto& split : m1.split_names()) {
    for (const auto& sh : m1.split(split).shards) {
      expect_same_shard(dir / "regions-1" / sh.file, dir / out / sh.file);
      data::ShardReader reader((dir / out / sh.file).string());
      ASSERT_TRUE(reader.has_regions());
      std::vector<float> feats(size_t(data::kMaxRegions) * 4);
      for (int64_t row = 0; row < reader.rows(); ++row) {
        const int i = std::stoi(reader.post_ids()[size_t(row)].substr(1));
        reader.read_region_features(row, feats.data());
        const int n = i % 37;
        EXPECT_EQ(feats[0], n > 0 ? float(i * 100) : 0.0f) << i;
        EXPECT_EQ(reader.region_mask()[size_t(row) * data::kMaxRegions + 0], n > 0 ? 1 : 0) << i;
      }
    }
  }
}

MMAUX_COLLECTIVE_TEST(PreprocessRanks, SameDataSetAtAnyNumberOfRanks, 120) {
  auto ranks = make_preprocess_ranks(comm);
  // Rank 0 writes the raw data set; every rank learns where.
  std::unique_ptr<mmaux::testing::TempDir> tmp;
  if (r == 0) {
    tmp = std::make_unique<mmaux::testing::TempDir>("mmaux-ranks");
    write_fixture(tmp->path());
  }
  const fs::path dir = ranks->all_gather(r == 0 ? tmp->path().string() : "")[0];
  const std::string out = fmt::format("out-w{}", w);
  auto o = options(dir, out);
  auto report = data::run_preprocess(o, read_raw_dataset(o), ranks.get());
  auto again = data::run_preprocess(o, read_raw_dataset(o), ranks.get());
  ranks->all_gather("");  // every rank is done before rank 0 looks and cleans up
  // Compute and communicate first, check after: only rank 0 runs the one-process reference.
  EXPECT_FALSE(report.up_to_date);
  EXPECT_TRUE(again.up_to_date);
  EXPECT_EQ(report.read, 45);
  if (r != 0) return;
  auto one = options(dir, "out-1");
  auto single = data::run_preprocess(one, read_raw_dataset(one));
  EXPECT_EQ(single.summary(), report.summary());
  EXPECT_EQ(report.skipped_by_reason, (std::map<std::string, int64_t>{{"duplicate id", 1},
                                                                      {"image too large", 1},
                                                                      {"missing image", 3},
                                                                      {"undecodable image", 6},
                                                                      {"unknown label", 1}}));
  for (const char* file : {"manifest.json", "skipped.csv", "splits.csv"}) {
    EXPECT_EQ(mmaux::testing::read_file(dir / "out-1" / file),
              mmaux::testing::read_file(dir / out / file))
        << file;
  }
  auto m1 = data::Manifest::load((dir / "out-1").string());
  auto mw = data::Manifest::load((dir / out).string());
  EXPECT_EQ(m1.fingerprint(), mw.fingerprint());
  // The same files; and in each split, the posts of splits.csv in their order, sample indices
  // counting from 0 across the shards.
  const auto splits_csv = parse_csv(read_whole_file((dir / out / "splits.csv").string()));
  size_t shards = 0;
  for (const auto& split : m1.split_names()) {
    ASSERT_EQ(m1.split(split).shards.size(), mw.split(split).shards.size()) << split;
    std::vector<std::string> ids, want;
    std::vector<int64_t> index;
    for (const auto& sh : mw.split(split).shards) {
      expect_same_shard(dir / "out-1" / sh.file, dir / out / sh.file);
      data::ShardReader reader((dir / out / sh.file).string());
      ids.insert(ids.end(), reader.post_ids().begin(), reader.post_ids().end());
      index.insert(index.end(), reader.sample_index().begin(), reader.sample_index().end());
      ++shards;
    }
    for (const auto& row : splits_csv) {
      if (row.fields[1] == split) want.push_back(row.fields[0]);
    }
    EXPECT_EQ(ids, want) << split;
    for (size_t i = 0; i < index.size(); ++i) EXPECT_EQ(index[i], int64_t(i)) << split;
  }
  EXPECT_GE(shards, 8u);
}

}  // namespace mmaux::preprocessing

#if MMAUX_COLLECTIVE_THREADS
namespace mmaux::preprocessing {

// Ranks that read different raw files (one changed while the job started) do not write a
// mixed data set: the plans' digests disagree and every rank fails naming the cause.
TEST(PreprocessRanks, RanksThatPlanDifferentDataSetsFail) {
  mmaux::testing::TempDir tmp("mmaux-ranks");
  write_fixture(tmp.path());
  auto o = options(tmp.path(), "out");
  const std::string msg = mmaux::testing::message_of([&] {
    dist::run_thread_ranks(2, [&](const std::shared_ptr<dist::Communicator>& c) {
      auto ranks = make_preprocess_ranks(c);
      auto raw = read_raw_dataset(o);
      if (c->rank() == 1) raw.posts.pop_back();
      data::run_preprocess(o, std::move(raw), ranks.get());
    });
  });
  EXPECT_NE(msg.find("planned a different data set"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp / "out/manifest.json"));
}

}  // namespace mmaux::preprocessing
#endif
