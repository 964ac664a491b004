// Region features without libtorch: the HDF5 layout (fixture written by h5py, see
// tests/data/regions/make_fixtures.py), every validation error, the writer, and the shard and
// manifest round trips with regions (and without: the earlier format, unchanged).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "mmaux/core/error.h"
#include "mmaux/core/hash.h"
#include "mmaux/data/manifest.h"
#include "mmaux/data/preprocess.h"
#include "mmaux/data/regions.h"
#include "mmaux/data/shard.h"
#include "support/test_support.h"

namespace mmaux::data {
namespace fs = std::filesystem;
using mmaux::testing::TempDir;

namespace {

constexpr int kF = 8;  // the fixtures' feature dimension

fs::path fixture_h5() { return mmaux::testing::source_dir() / "tests/data/regions/regions.h5"; }

// The fixture values (make_fixtures.py): feature[i][k] = (i F + k) / 100, box[i] = (i/40, i/80,
// i/40 + 0.02, i/80 + 0.5), in float32.
void expect_fixture_values(const RegionFeatures& r, int n) {
  ASSERT_EQ(r.count, n);
  ASSERT_EQ(r.features.size(), size_t(n) * kF);
  ASSERT_EQ(r.boxes.size(), size_t(n) * 4);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < kF; ++k) {
      EXPECT_EQ(r.features[size_t(i) * kF + k], float(double(i * kF + k) / 100)) << i << "," << k;
    }
    const double want[4] = {i / 40.0, i / 80.0, i / 40.0 + 0.02, i / 80.0 + 0.5};
    for (int c = 0; c < 4; ++c) EXPECT_EQ(r.boxes[size_t(i) * 4 + c], float(want[c])) << i;
  }
}

// The reason and message of the RegionError that reading or validating `id` throws.
std::pair<std::string, std::string> region_error(const RegionSource& src, const std::string& id) {
  try {
    RegionFeatures r = src.read(id, kF);
    validate_regions(r, kF, id);
  } catch (const RegionError& e) {
    return {e.reason(), e.what()};
  }
  return {"<none>", ""};
}

RegionFeatures ramp(int n, int dim, float base) {
  RegionFeatures r;
  r.count = n;
  for (int i = 0; i < n * dim; ++i) r.features.push_back(base + float(i));
  for (int i = 0; i < n; ++i) {
    for (float v : {0.1f, 0.2f, 0.3f + 0.01f * i, 0.9f}) r.boxes.push_back(v);
  }
  return r;
}

}  // namespace

TEST(Regions, Hdf5LayoutReadsTheValuesH5pyWrote) {
  auto src = open_region_h5(fixture_h5().string());
  EXPECT_EQ(src->kind(), "hdf5");
  expect_fixture_values(src->read("ok_full", kF), 36);
  expect_fixture_values(src->read("ok_few", kF), 5);  // float64 in the file
  expect_fixture_values(src->read("ok_zero", kF), 0);
  for (const char* id : {"ok_full", "ok_few", "ok_zero"}) {
    EXPECT_NO_THROW(validate_regions(src->read(id, kF), kF, id)) << id;
  }
}

TEST(Regions, EveryBadPostIsARegionErrorNamingTheProblem) {
  auto src = open_region_h5(fixture_h5().string());
  const std::string missing = skip_reason::kMissingRegions, invalid = skip_reason::kInvalidRegions;
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"no_such_post", missing, "no group for this post"},
      {"a/b", missing, "no group for this post"},
      {"bad_dim", invalid, "roi_features has shape [36, 7], expected [n, 8] with n <= 36"},
      {"bad_many", invalid, "roi_features has shape [40, 8]"},
      {"bad_count", invalid, "36 rows of roi_features but 30 normalized_boxes"},
      {"bad_nan", invalid, "region 2 feature 3 is nan (not finite)"},
      {"bad_inf_box", invalid, "region 4 box (0.1, inf, 0.12, 0.55)"},
      {"bad_outside", invalid, "region 1 box (0.025, 0.0125, 1.5, 0.5125)"},
      {"bad_reversed", invalid, "region 0 box (0.6, 0, 0.4, 0.5)"},
      {"bad_int", invalid, "roi_features is not floating point"},
      {"bad_no_boxes", invalid, "has no dataset 'normalized_boxes'"},
      {"bad_rank1", invalid, "roi_features has shape [288], expected [n, 8]"},
      {"bad_not_group", invalid, "is not a group"},
  };
  for (const auto& [id, reason, text] : cases) {
    auto [got_reason, what] = region_error(*src, id);
    EXPECT_EQ(got_reason, reason) << id << ": " << what;
    EXPECT_NE(what.find(text), std::string::npos) << id << ": " << what;
    EXPECT_NE(what.find(id), std::string::npos) << id << ": " << what;
  }
  // A wrong F is a shape error, not a silent reinterpretation.
  EXPECT_THROW(src->read("ok_full", 16), RegionError);
}

TEST(Regions, SourcesThatCannotBeOpenedAreDataErrors) {
  TempDir tmp("mmaux-regions");
  auto msg = mmaux::testing::message_of([&] { open_region_h5((tmp / "none.h5").string()); });
  EXPECT_NE(msg.find("none.h5"), std::string::npos) << msg;
  mmaux::testing::write_file(tmp / "text.h5", "not hdf5");
  msg = mmaux::testing::message_of([&] { open_region_h5((tmp / "text.h5").string()); });
  EXPECT_NE(msg.find("is not an HDF5 file"), std::string::npos) << msg;
}

TEST(Regions, ValidationChecksEveryValue) {
  RegionFeatures ok = ramp(3, 2, 0.0f);
  EXPECT_NO_THROW(validate_regions(ok, 2, "p"));
  auto bad = [&](auto mutate, const std::string& text) {
    RegionFeatures r = ok;
    mutate(r);
    auto msg = mmaux::testing::message_of<RegionError>([&] { validate_regions(r, 2, "post p"); });
    EXPECT_NE(msg.find(text), std::string::npos) << msg;
    EXPECT_NE(msg.find("post p"), std::string::npos) << msg;
  };
  bad([](RegionFeatures& r) { r.features[5] = std::numeric_limits<float>::infinity(); },
      "region 2 feature 1 is inf");
  bad([](RegionFeatures& r) { r.boxes[0] = -0.01f; }, "region 0 box (-0.01");
  bad([](RegionFeatures& r) { r.boxes[3] = 1.01f; }, "region 0 box");
  bad([](RegionFeatures& r) { r.boxes[4 + 1] = 0.95f; }, "region 1 box");  // y1 > y2
  bad([](RegionFeatures& r) { r.boxes[8] = std::nanf(""); }, "region 2 box (nan");
  // Degenerate (zero-area) boxes are allowed: the extractor pads with zero boxes.
  RegionFeatures flat = ok;
  for (float& b : flat.boxes) b = 0;
  EXPECT_NO_THROW(validate_regions(flat, 2, "p"));
}

TEST(Regions, WriterRoundTrip) {
  TempDir tmp("mmaux-regions");
  const auto path = (tmp / "r.h5").string();
  {
    RegionFileWriter w(path);
    w.add("a", ramp(36, 3, 1.0f), 3);
    w.add("b", ramp(0, 3, 0.0f), 3);
    w.add("c", ramp(2, 3, -5.0f), 3);
    w.close();
  }
  auto src = open_region_h5(path);
  for (const auto& [id, want] : {std::pair<std::string, RegionFeatures>{"a", ramp(36, 3, 1.0f)},
                                 {"b", ramp(0, 3, 0.0f)},
                                 {"c", ramp(2, 3, -5.0f)}}) {
    RegionFeatures got = src->read(id, 3);
    EXPECT_EQ(got.count, want.count) << id;
    EXPECT_EQ(got.features, want.features) << id;
    EXPECT_EQ(got.boxes, want.boxes) << id;
  }
  Sha256 a, b;
  src->fingerprint(a, {"a"});
  fs::last_write_time(path, fs::last_write_time(path) - std::chrono::hours(1));
  src->fingerprint(b, {"a"});
  EXPECT_NE(a.hex_digest(), b.hex_digest()) << "a changed file must change the fingerprint";
}

TEST(Regions, ShardsStorePaddedRegionsAndAMask) {
  TempDir tmp("mmaux-regions");
  const auto path = (tmp / "s.h5").string();
  const auto preset = ImagePreset::parse("fixed:4");
  const int F = 5;
  const int counts[] = {36, 0, 7};
  {
    ShardWriter w(path, 3, preset, {}, F);
    for (int i = 0; i < 3; ++i) {
      Sample s;
      s.post_id = "p" + std::to_string(i);
      s.input_ids = {1, 2, 3};
      s.length = 3;
      s.height = s.width = 4;
      s.pixels.assign(48, uint8_t(i));
      s.sample_index = i;
      s.regions = ramp(counts[i], F, float(100 * i));
      w.append(s);
    }
    w.finish();
  }
  for (bool direct : {true, false}) {
    ShardReader r(path, direct);
    ASSERT_TRUE(r.has_regions());
    EXPECT_EQ(r.region_max(), kMaxRegions);
    EXPECT_EQ(r.region_dim(), F);
    std::vector<float> feats(size_t(kMaxRegions) * F);
    for (int i = 0; i < 3; ++i) {
      const RegionFeatures want = ramp(counts[i], F, float(100 * i));
      r.read_region_features(i, feats.data());
      for (size_t k = 0; k < feats.size(); ++k) {
        EXPECT_EQ(feats[k], k < want.features.size() ? want.features[k] : 0.0f) << i << "," << k;
      }
      for (int q = 0; q < kMaxRegions; ++q) {
        EXPECT_EQ(r.region_mask()[size_t(i * kMaxRegions + q)], q < counts[i] ? 1 : 0);
        for (int c = 0; c < 4; ++c) {
          const size_t at = size_t(q) * 4 + c;
          EXPECT_EQ(r.region_boxes()[size_t(i) * kMaxRegions * 4 + at],
                    q < counts[i] ? want.boxes[at] : 0.0f);
        }
      }
    }
    std::vector<uint8_t> px(48);
    r.read_pixels(2, px.data(), 48);
    EXPECT_EQ(px[0], 2);
  }
}

TEST(Regions, ShardsWithoutRegionsHaveNoRegionColumns) {
  TempDir tmp("mmaux-regions");
  const auto preset = ImagePreset::parse("fixed:4");
  auto write = [&](const std::string& name) {
    ShardWriter w((tmp / name).string(), 2, preset, {"m"});
    Sample s;
    s.post_id = "p";
    s.input_ids = {1, 2};
    s.length = 2;
    s.height = s.width = 4;
    s.pixels.assign(48, 9);
    s.meta = {"x"};
    w.append(s);
    return w.finish();
  };
  write("a.h5");
  ShardReader r((tmp / "a.h5").string());
  EXPECT_FALSE(r.has_regions());
  EXPECT_TRUE(r.region_mask().empty());
}

TEST(Regions, ManifestRecordsRegionsOnlyWhenPresent) {
  TempDir tmp("mmaux-regions");
  Manifest m;
  m.set_dataset("x");
  m.set_class_names({"a", "b"});
  m.save(tmp.path().string());
  const std::string plain = mmaux::testing::read_file(tmp / "manifest.json");
  EXPECT_EQ(plain.find("regions"), std::string::npos);
  const std::string fp = m.fingerprint();
  EXPECT_FALSE(Manifest::load(tmp.path().string()).has_regions());

  RegionInfo info{kMaxRegions, 2048, "torch-dir", "/data/feats", "abc123"};
  m.set_regions(info);
  EXPECT_NE(m.fingerprint(), fp);
  m.save(tmp.path().string());
  Manifest back = Manifest::load(tmp.path().string());
  ASSERT_TRUE(back.has_regions());
  EXPECT_EQ(back.regions().max_regions, kMaxRegions);
  EXPECT_EQ(back.regions().feature_dim, 2048);
  EXPECT_EQ(back.regions().source_kind, "torch-dir");
  EXPECT_EQ(back.regions().source, "/data/feats");
  EXPECT_EQ(back.regions().fingerprint, "abc123");
  EXPECT_EQ(back.fingerprint(), m.fingerprint());
  info.fingerprint = "other";
  m.set_regions(info);
  EXPECT_NE(back.fingerprint(), m.fingerprint()) << "other features, other data set";
}

}  // namespace mmaux::data
