// `mmaux preprocess --region-features` on both layouts, from files written by PyTorch and h5py
// (tests/data/regions/make_fixtures.py): the paper scripts' directory of torch.save files read
// with the restricted torch.save reader, every validation error as a skip-report line, the
// values stored in the shards, the manifest's record and the up-to-date check.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "mmaux/core/csv.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/data/image.h"
#include "mmaux/data/manifest.h"
#include "mmaux/data/preprocess.h"
#include "mmaux/data/shard.h"
#include "mmaux/model/resnet.h"
#include "preprocessing/fixture_util.h"
#include "readers.h"
#include "region_sources.h"
#include "support/test_support.h"

namespace mmaux::preprocessing {
using mmaux::testing::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr int kF = 8;
const std::string kMissing = data::skip_reason::kMissingRegions;
const std::string kInvalid = data::skip_reason::kInvalidRegions;

fs::path fixtures() { return mmaux::testing::source_dir() / "tests/data/regions"; }
fs::path resnet_dir() {
  return mmaux::testing::source_dir() / "tests/data/hf_golden/models/resnet";
}

// feature[i][k] = (i F + k) / 100, box[i] = (i/40, i/80, i/40 + 0.02, i/80 + 0.5) (float32).
data::RegionFeatures expected(int n) {
  data::RegionFeatures r;
  r.count = n;
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < kF; ++k) r.features.push_back(float(double(i * kF + k) / 100));
    for (double v : {i / 40.0, i / 80.0, i / 40.0 + 0.02, i / 80.0 + 0.5}) {
      r.boxes.push_back(float(v));
    }
  }
  return r;
}

std::pair<std::string, std::string> region_error(const data::RegionSource& src,
                                                 const std::string& id) {
  try {
    data::validate_regions(src.read(id, kF), kF, id);
  } catch (const data::RegionError& e) {
    return {e.reason(), e.what()};
  }
  return {"<none>", ""};
}

// A csv data set with one post per id (all train, one shard unit of 4), the tiny model with
// visual_feat_dim F.
struct Pipeline {
  TempDir tmp{"mmaux-regions"};
  fs::path model = tmp / "model";
  std::vector<std::string> ids;

  int dim;

  explicit Pipeline(std::vector<std::string> post_ids, int feature_dim = kF)
      : ids(std::move(post_ids)), dim(feature_dim) {
    mmaux::testing::write_tiny_model(model);
    mmaux::testing::write_file(
        model / "config.json",
        fmt::format(R"({{"model_type": "bert", "image_size": 16, "max_text_length": 12, )"
                    R"("visual_feat_dim": {}}})",
                    dim));
    std::string csv = "post_id,text,label,split,image\n";
    for (size_t i = 0; i < ids.size(); ++i) {
      mmaux::testing::write_image(tmp / "raw/images" / (ids[i] + ".jpg"), int(10 * i));
      csv +=
          fmt::format("{},post {},{},train,images/{}.jpg\n", ids[i], i, i % 2 ? "a" : "b", ids[i]);
    }
    mmaux::testing::write_file(tmp / "raw/posts.csv", csv);
  }

  PreprocessOptions options(const std::string& out, const std::string& regions) const {
    auto o = mmaux::testing::preprocess_options("csv", tmp / "raw", tmp / out, model);
    o.region_features = regions;
    return o;
  }

  data::PreprocessReport run(const std::string& out, const std::string& regions,
                             const std::string& grid_model = "") const {
    auto o = options(out, regions);
    auto raw = read_raw_dataset(o);
    auto source = open_region_source(regions, raw, grid_model);
    return data::run_preprocess(o, raw, nullptr, source.get());
  }

  // post id -> skip reason, from skipped.csv.
  std::map<std::string, std::string> skips(const std::string& out) const {
    std::map<std::string, std::string> m;
    for (const auto& row : parse_csv(read_whole_file((tmp / out / "skipped.csv").string()))) {
      if (row.fields[0] != "post_id") m[row.fields[0]] = row.fields[2];
    }
    return m;
  }

  // post id -> the regions stored in the shards (padding rows must be zero and masked).
  std::map<std::string, data::RegionFeatures> stored(const std::string& out) const {
    auto m = data::Manifest::load((tmp / out).string());
    std::map<std::string, data::RegionFeatures> got;
    for (const auto& sh : m.split("train").shards) {
      data::ShardReader r((tmp / out / sh.file).string());
      EXPECT_TRUE(r.has_regions());
      EXPECT_EQ(r.region_dim(), dim);
      const size_t F = size_t(dim);
      std::vector<float> feats(size_t(data::kMaxRegions) * F);
      for (int64_t row = 0; row < r.rows(); ++row) {
        r.read_region_features(row, feats.data());
        data::RegionFeatures f;
        const size_t base = size_t(row) * data::kMaxRegions;
        while (f.count < data::kMaxRegions && r.region_mask()[base + size_t(f.count)]) ++f.count;
        for (size_t q = size_t(f.count); q < size_t(data::kMaxRegions); ++q) {
          EXPECT_EQ(r.region_mask()[base + q], 0);
          for (size_t k = 0; k < F; ++k) EXPECT_EQ(feats[q * F + k], 0.0f);
          for (int c = 0; c < 4; ++c) EXPECT_EQ(r.region_boxes()[(base + q) * 4 + size_t(c)], 0);
        }
        f.features.assign(feats.begin(), feats.begin() + std::ptrdiff_t(size_t(f.count) * F));
        f.boxes.assign(r.region_boxes().begin() + std::ptrdiff_t(base * 4),
                       r.region_boxes().begin() + std::ptrdiff_t((base + size_t(f.count)) * 4));
        got[r.post_ids()[size_t(row)]] = f;
      }
    }
    return got;
  }
};

const std::vector<std::string> kCommonIds = {
    "ok_full",      "bad_dim",      "ok_few",      "bad_many",    "bad_count",
    "bad_nan",      "ok_zero",      "bad_int",     "bad_inf_box", "bad_outside",
    "bad_reversed", "bad_no_boxes", "no_such_post"};

}  // namespace

TEST(RegionSources, TorchDirReadsThePaperScriptsFiles) {
  auto src = open_region_torch_dir((fixtures() / "torch_dir").string());
  EXPECT_EQ(src->kind(), "torch-dir");
  for (auto [id, n] : {std::pair<const char*, int>{"ok_full", 36}, {"ok_few", 5}, {"ok_zero", 0}}) {
    const data::RegionFeatures r = src->read(id, kF);
    const data::RegionFeatures want = expected(n);
    EXPECT_EQ(r.count, n) << id;
    EXPECT_EQ(r.features, want.features) << id;
    EXPECT_EQ(r.boxes, want.boxes) << id;
  }
}

TEST(RegionSources, TorchDirBadPostsAreRegionErrorsNamingTheFileAndProblem) {
  auto src = open_region_torch_dir((fixtures() / "torch_dir").string());
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"no_such_post", kMissing, "no roi_features file"},
      {"bad_no_boxes", kMissing, "no normalized_boxes file"},
      {"../boxes/nbox_ok_full", kMissing, "cannot name a file"},
      {"bad_dim", kInvalid, "shape [1, 36, 7], expected floating point [1, n, 8] or [n, 8]"},
      {"bad_many", kInvalid, "shape [1, 40, 8]"},
      {"bad_count", kInvalid, "36 regions in"},
      {"bad_nan", kInvalid, "region 2 feature 3 is nan"},
      {"bad_inf_box", kInvalid, "region 4 box (0.1, inf, 0.12, 0.55)"},
      {"bad_outside", kInvalid, "region 1 box (0.025, 0.0125, 1.5, 0.5125)"},
      {"bad_reversed", kInvalid, "region 0 box (0.6, 0, 0.4, 0.5)"},
      {"bad_int", kInvalid, "holds a Long tensor"},
      {"bad_dict", kInvalid, "holds a dict of 1 tensors, expected one tensor"},
      {"bad_corrupt", kInvalid, "feat_bad_corrupt"},
  };
  for (const auto& [id, reason, text] : cases) {
    auto [got, what] = region_error(*src, id);
    EXPECT_EQ(got, reason) << id << ": " << what;
    EXPECT_NE(what.find(text), std::string::npos) << id << ": " << what;
  }
}

TEST(RegionSources, TheSpecChoosesTheLayout) {
  const data::RawDataset raw;
  EXPECT_EQ(open_region_source("", raw), nullptr);
  EXPECT_EQ(open_region_source((fixtures() / "torch_dir").string(), raw)->kind(), "torch-dir");
  EXPECT_EQ(open_region_source((fixtures() / "regions.h5").string(), raw)->kind(), "hdf5");
  EXPECT_EQ(open_region_source("grid", raw, resnet_dir().string())->kind(), "grid");
  auto msg =
      mmaux::testing::message_of<ConfigError>([&] { open_region_source("/no/such/feats", raw); });
  EXPECT_NE(msg.find("'/no/such/feats' does not exist"), std::string::npos) << msg;
  msg = mmaux::testing::message_of<DataError>(
      [&] { open_region_source((fixtures() / "torch_dir/features").string(), raw); });
  EXPECT_NE(msg.find("without 'features/'"), std::string::npos) << msg;
  msg = mmaux::testing::message_of<DataError>(
      [&] { open_region_source((fixtures() / "make_fixtures.py").string(), raw); });
  EXPECT_NE(msg.find("is not an HDF5 file"), std::string::npos) << msg;
  msg = mmaux::testing::message_of<ConfigError>([&] { open_region_source("grid", raw); });
  EXPECT_NE(msg.find("--region-features grid needs --region-grid-model DIR"), std::string::npos)
      << msg;
}

// The grid variant: 36 cells of the ResNet's layer4 map (the tiny torchvision-layout ResNet of
// tests/data/hf_golden/models/resnet, F = 160) over the post's image at 224 x 224, ImageNet
// normalisation, row-major cells as boxes.
TEST(RegionSources, GridCellsOfTheResNetMap) {
  Pipeline p({"g0", "g1", "g2"}, 160);
  EXPECT_FALSE(p.run("grid", "grid", resnet_dir().string()).up_to_date);
  auto m = data::Manifest::load((p.tmp / "grid").string());
  ASSERT_TRUE(m.has_regions());
  EXPECT_EQ(m.regions().source_kind, "grid");
  EXPECT_EQ(m.regions().feature_dim, 160);
  auto stored = p.stored("grid");
  ASSERT_EQ(stored.size(), 3u);
  auto resnet = model::load_resnet(resnet_dir().string());
  resnet->eval();
  at::NoGradGuard no_grad;
  for (const auto& id : p.ids) {
    const data::RegionFeatures& r = stored[id];
    ASSERT_EQ(r.count, 36) << id;
    // Cell 8 = row 1, column 2: x from 2/6 to 3/6, y from 1/6 to 2/6.
    EXPECT_EQ(std::vector<float>(r.boxes.begin() + 32, r.boxes.begin() + 36),
              (std::vector<float>{2 / 6.0f, 1 / 6.0f, 3 / 6.0f, 2 / 6.0f}));
    data::Image img = data::load_image((p.tmp / "raw/images" / (id + ".jpg")).string(),
                                       data::ImagePreset::parse("fixed:224"));
    at::Tensor x = at::from_blob(img.pixels.data(), {1, 3, 224, 224}, at::kByte).to(at::kFloat);
    x = (x / 255 - at::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1})) /
        at::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
    at::Tensor map = resnet->features(x);  // [1, 160, 7, 7]
    // Cell (row 1, column 2) of 7 -> 6 adaptive pooling covers rows 1..2 and columns 2..3.
    at::Tensor cell = map.narrow(2, 1, 2).narrow(3, 2, 2).mean({2, 3}).flatten();
    at::Tensor got =
        at::tensor(std::vector<float>(r.features.begin() + 8 * 160, r.features.begin() + 9 * 160));
    EXPECT_TRUE(at::allclose(got, cell, 1e-5, 1e-6)) << id;
  }
  // The data set's visual_feat_dim must be the ResNet's width.
  Pipeline wrong({"g0"}, 8);
  auto msg = mmaux::testing::message_of<DataError>(
      [&] { wrong.run("grid", "grid", resnet_dir().string()); });
  EXPECT_NE(msg.find("gives 160 features per cell but the model's visual_feat_dim is 8"),
            std::string::npos)
      << msg;
}

TEST(RegionSources, BothLayoutsGiveTheSameShardsAndSkipLines) {
  Pipeline p(kCommonIds);
  const std::map<std::string, std::string> want_skips = {
      {"bad_dim", kInvalid},
      {"bad_many", kInvalid},
      {"bad_count", kInvalid},
      {"bad_nan", kInvalid},
      {"bad_int", kInvalid},
      {"bad_inf_box", kInvalid},
      {"bad_outside", kInvalid},
      {"bad_reversed", kInvalid},
      {"no_such_post", kMissing},
      // The HDF5 group exists without boxes (invalid); the torch.save box file is absent.
      {"bad_no_boxes", "*"}};
  for (const auto& [out, spec] :
       {std::pair<std::string, fs::path>{"torch", fixtures() / "torch_dir"},
        {"h5", fixtures() / "regions.h5"}}) {
    SCOPED_TRACE(out);
    auto report = p.run(out, spec.string());
    EXPECT_EQ(report.written, 3);
    EXPECT_EQ(report.skipped, 10);
    auto skips = p.skips(out);
    ASSERT_EQ(skips.size(), want_skips.size());
    for (const auto& [id, reason] : want_skips) {
      if (reason != "*") {
        EXPECT_EQ(skips[id], reason) << id;
      }
    }
    auto stored = p.stored(out);
    ASSERT_EQ(stored.size(), 3u);
    for (auto [id, n] :
         {std::pair<const char*, int>{"ok_full", 36}, {"ok_few", 5}, {"ok_zero", 0}}) {
      EXPECT_EQ(stored[id].count, n) << id;
      EXPECT_EQ(stored[id].features, expected(n).features) << id;
      EXPECT_EQ(stored[id].boxes, expected(n).boxes) << id;
    }
  }
  EXPECT_EQ(p.skips("torch")["bad_no_boxes"], kMissing);
  EXPECT_EQ(p.skips("h5")["bad_no_boxes"], kInvalid);
  auto torch = data::Manifest::load((p.tmp / "torch").string());
  auto h5 = data::Manifest::load((p.tmp / "h5").string());
  ASSERT_TRUE(torch.has_regions() && h5.has_regions());
  EXPECT_EQ(torch.regions().source_kind, "torch-dir");
  EXPECT_EQ(h5.regions().source_kind, "hdf5");
  EXPECT_EQ(torch.regions().feature_dim, kF);
  EXPECT_EQ(torch.regions().max_regions, data::kMaxRegions);
  // The same stored values from either container: the same features' fingerprint.
  EXPECT_EQ(torch.regions().fingerprint, h5.regions().fingerprint);
  EXPECT_EQ(torch.regions().fingerprint.size(), 64u);
}

TEST(RegionSources, AChangedFeatureFileMakesTheOutputStale) {
  TempDir copy("mmaux-regions-src");
  fs::copy(fixtures() / "torch_dir", copy / "feats", fs::copy_options::recursive);
  Pipeline p({"ok_full", "ok_few"});
  const std::string spec = (copy / "feats").string();
  EXPECT_FALSE(p.run("out", spec).up_to_date);
  const std::string before = data::Manifest::load((p.tmp / "out").string()).regions().fingerprint;
  EXPECT_TRUE(p.run("out", spec).up_to_date);
  // ok_few's features replaced by ok_full's: another size and time, other stored values.
  fs::copy_file(copy / "feats/features/feat_ok_full", copy / "feats/features/feat_ok_few",
                fs::copy_options::overwrite_existing);
  fs::copy_file(copy / "feats/boxes/nbox_ok_full", copy / "feats/boxes/nbox_ok_few",
                fs::copy_options::overwrite_existing);
  EXPECT_FALSE(p.run("out", spec).up_to_date);
  const auto after = data::Manifest::load((p.tmp / "out").string());
  EXPECT_NE(after.regions().fingerprint, before);
  EXPECT_EQ(p.stored("out")["ok_few"].count, 36);
  // The same posts without regions: another data set, shards without region columns.
  EXPECT_FALSE(p.run("out", "").up_to_date);
  auto plain = data::Manifest::load((p.tmp / "out").string());
  EXPECT_FALSE(plain.has_regions());
  data::ShardReader r((p.tmp / "out" / plain.split("train").shards[0].file).string());
  EXPECT_FALSE(r.has_regions());
}

}  // namespace mmaux::preprocessing
