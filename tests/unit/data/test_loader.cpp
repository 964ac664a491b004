#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <set>

#include "mmaux/core/error.h"
#include "mmaux/data/loader.h"
#include "support/test_support.h"
#include "unit/data/data_fixture.h"

namespace mmaux::data {
using mmaux::testing::TempDir;

namespace {

struct Fixture {
  TempDir dir{"mmaux-loader"};
  Manifest manifest;
  Fixture(int train = 23, int val = 10, const std::string& preset = "fixed:8", int region_dim = 0) {
    mmaux::testing::write_fixture_dataset(
        dir.path().string(), {{"train", train}, {"validation", val}}, 5, preset, region_dim);
    manifest = Manifest::load(dir.path().string());
  }
};

LoaderOptions opts(const std::string& split, int64_t batch, bool drop, int rank, int world) {
  LoaderOptions o;
  o.split = split;
  o.global_batch_size = batch;
  o.drop_last = drop;
  o.shuffle = split == "train";
  o.seed = 7;
  o.rank = rank;
  o.world_size = world;
  o.prefetch = 2;
  o.threads = 2;
  return o;
}

/// All global batches of one epoch, rebuilt by concatenating the ranks' shares in rank order.
std::vector<std::vector<at::Tensor>> global_batches(const Manifest& m, LoaderOptions o, int world,
                                                    int64_t epoch) {
  std::vector<std::unique_ptr<Loader>> loaders;
  for (int r = 0; r < world; ++r) {
    o.rank = r;
    o.world_size = world;
    loaders.push_back(std::make_unique<Loader>(m, o));
    loaders.back()->start_epoch(epoch);
  }
  std::vector<std::vector<at::Tensor>> out;
  for (;;) {
    std::vector<Batch> parts;
    for (auto& l : loaders) {
      auto b = l->next();
      if (!b) break;
      parts.push_back(std::move(*b));
    }
    if (parts.empty()) break;
    EXPECT_EQ(int(parts.size()), world) << "ranks disagree on the number of steps";
    std::vector<at::Tensor> ids, px, lab, idx, rows, mask, rf, rb, rm;
    int64_t offset = 0;
    for (auto& p : parts) {
      EXPECT_EQ(p.row_offset, offset);
      EXPECT_EQ(p.global_batch_size, parts[0].global_batch_size);
      offset += p.size();
      ids.push_back(p.input_ids);
      px.push_back(p.pixels);
      lab.push_back(p.labels);
      idx.push_back(p.sample_index);
      rows.push_back(p.global_row);
      mask.push_back(p.attention_mask);
      EXPECT_EQ(p.region_features.defined(), m.has_regions());
      if (p.region_features.defined()) {
        rf.push_back(p.region_features);
        rb.push_back(p.region_boxes);
        rm.push_back(p.region_mask);
      }
    }
    EXPECT_EQ(offset, parts[0].global_batch_size);
    out.push_back(
        {at::cat(ids), at::cat(px), at::cat(lab), at::cat(idx), at::cat(rows), at::cat(mask)});
    if (!rf.empty()) {
      for (auto* v : {&rf, &rb, &rm}) out.back().push_back(at::cat(*v));
    }
  }
  return out;
}

}  // namespace

TEST(Loader, RankSharesAreContiguousAndCoverTheBatch) {
  EXPECT_EQ(Loader::rank_share(10, 0, 4), (std::pair<int64_t, int64_t>(0, 3)));
  EXPECT_EQ(Loader::rank_share(10, 1, 4), (std::pair<int64_t, int64_t>(3, 3)));
  EXPECT_EQ(Loader::rank_share(10, 2, 4), (std::pair<int64_t, int64_t>(6, 2)));
  EXPECT_EQ(Loader::rank_share(10, 3, 4), (std::pair<int64_t, int64_t>(8, 2)));
  EXPECT_EQ(Loader::rank_share(1, 2, 3), (std::pair<int64_t, int64_t>(1, 0)));
}

TEST(Loader, EpochOrderIsAPermutationFixedBySeedAndEpoch) {
  auto a = Loader::epoch_order(100, 3, 0, true);
  EXPECT_EQ(a, Loader::epoch_order(100, 3, 0, true));
  EXPECT_NE(a, Loader::epoch_order(100, 3, 1, true));
  EXPECT_NE(a, Loader::epoch_order(100, 4, 0, true));
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(Loader::epoch_order(5, 3, 0, false), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Loader, UnionOverRanksIsTheEpoch) {
  Fixture f;
  for (const char* split : {"train", "validation"}) {
    for (int world = 1; world <= 4; ++world) {
      std::multiset<int64_t> seen;
      for (int r = 0; r < world; ++r) {
        Loader l(f.manifest, opts(split, 4, false, r, world));
        l.start_epoch(2);
        while (auto b = l.next()) {
          for (int64_t i = 0; i < b->size(); ++i) seen.insert(b->sample_index[i].item<int64_t>());
        }
      }
      int64_t n = f.manifest.split_size(split);
      ASSERT_EQ(int64_t(seen.size()), n) << split << " world " << world;
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(seen.count(i), 1u) << split << " sample " << i;
    }
  }
}

TEST(Loader, WorldSizesOneToFourSeeIdenticalGlobalBatches) {
  Fixture f;
  for (bool drop : {true, false}) {
    auto ref = global_batches(f.manifest, opts("train", 6, drop, 0, 1), 1, 1);
    ASSERT_EQ(ref.size(), drop ? 3u : 4u);
    for (int world = 2; world <= 4; ++world) {
      auto got = global_batches(f.manifest, opts("train", 6, drop, 0, 1), world, 1);
      ASSERT_EQ(got.size(), ref.size()) << "world " << world;
      for (size_t s = 0; s < ref.size(); ++s) {
        for (size_t k = 0; k < ref[s].size(); ++k) {
          EXPECT_TRUE(at::equal(ref[s][k], got[s][k]))
              << "world " << world << " step " << s << " tensor " << k;
        }
        EXPECT_TRUE(at::equal(got[s][4], at::arange(got[s][4].size(0), at::kLong)));
      }
    }
  }
}

TEST(Loader, ContentMatchesTheShards) {
  Fixture f;
  Loader l(f.manifest, opts("validation", 4, false, 0, 1));
  auto b = l.next();
  ASSERT_TRUE(b);
  ASSERT_EQ(b->size(), 4);
  int64_t i = b->sample_index[2].item<int64_t>();
  EXPECT_EQ(i, 2);  // no shuffle on validation
  EXPECT_EQ(b->labels[2].item<int64_t>(), i % 3);
  EXPECT_EQ(b->input_ids[2][0].item<int64_t>(), i + 5);
  EXPECT_EQ(b->attention_mask[2].sum().item<int64_t>(), 1 + i % 6);
  float v = ((i * 7) % 256) / 255.0f;
  EXPECT_NEAR(b->pixels[2][0][3][3].item<float>(), (v - 0.5f) / 0.5f, 1e-6);
  EXPECT_NEAR(b->pixels[2][1][0][0].item<float>(), -1.0f, 1e-6);
  EXPECT_EQ(b->pixel_mask.sum().item<int64_t>(), 4 * 8 * 8);
  EXPECT_EQ(b->post_ids[2], "validation-2");
  EXPECT_EQ(b->relation[3].item<int64_t>(), 1);
  EXPECT_EQ(b->pixels.dtype(), at::kFloat);
  EXPECT_EQ(b->input_ids.dtype(), at::kLong);
}

TEST(Loader, SmallLastBatchGivesSomeRanksZeroRows) {
  Fixture f;
  // validation: 10 samples, batch 4 -> 4, 4, 2; at 4 ranks the last batch leaves ranks 2, 3 empty.
  std::vector<int64_t> last_sizes;
  for (int r = 0; r < 4; ++r) {
    Loader l(f.manifest, opts("validation", 4, false, r, 4));
    EXPECT_EQ(l.steps_per_epoch(), 3);
    std::optional<Batch> b, last;
    while ((b = l.next())) last = b;
    ASSERT_TRUE(last);
    EXPECT_EQ(last->global_batch_size, 2);
    last_sizes.push_back(last->size());
    EXPECT_EQ(last->pixels.size(0), last->size());
  }
  EXPECT_EQ(last_sizes, (std::vector<int64_t>{1, 1, 0, 0}));
}

TEST(Loader, ResumeFromCursorContinuesExactly) {
  Fixture f;
  auto o = opts("train", 4, true, 1, 2);
  Loader full(f.manifest, o);
  full.start_epoch(3);
  std::vector<Batch> all;
  while (auto b = full.next()) all.push_back(*b);
  ASSERT_EQ(all.size(), 5u);

  Loader first(f.manifest, o);
  first.start_epoch(3);
  first.next();
  first.next();
  Cursor c = first.cursor();
  EXPECT_EQ(c, (Cursor{3, 2}));

  Loader resumed(f.manifest, o);
  resumed.start_epoch(c.epoch, c.step);
  for (size_t s = 2; s < all.size(); ++s) {
    auto b = resumed.next();
    ASSERT_TRUE(b);
    EXPECT_TRUE(at::equal(b->sample_index, all[s].sample_index)) << "step " << s;
    EXPECT_TRUE(at::equal(b->pixels, all[s].pixels)) << "step " << s;
  }
  EXPECT_FALSE(resumed.next());
  EXPECT_EQ(resumed.cursor(), (Cursor{3, 5}));
}

TEST(Loader, PrefetchAndThreadsDoNotChangeTheStream) {
  Fixture f;
  auto o = opts("train", 5, false, 0, 1);
  o.prefetch = 0;
  Loader sync(f.manifest, o);
  o.prefetch = 3;
  o.threads = 3;
  Loader async(f.manifest, o);
  for (int epoch = 0; epoch < 2; ++epoch) {
    sync.start_epoch(epoch);
    async.start_epoch(epoch);
    while (auto a = sync.next()) {
      auto b = async.next();
      ASSERT_TRUE(b);
      EXPECT_TRUE(at::equal(a->sample_index, b->sample_index));
      EXPECT_TRUE(at::equal(a->pixels, b->pixels));
    }
    EXPECT_FALSE(async.next());
  }
  // Re-positioning while batches are in flight drops them.
  async.start_epoch(0);
  async.next();
  async.start_epoch(1, 2);
  sync.start_epoch(1, 2);
  EXPECT_TRUE(at::equal(async.next()->sample_index, sync.next()->sample_index));
}

TEST(Loader, ShuffleDiffersBetweenEpochs) {
  Fixture f;
  Loader l(f.manifest, opts("train", 23, false, 0, 1));
  auto e0 = l.next()->sample_index.clone();
  l.start_epoch(1);
  auto e1 = l.next()->sample_index.clone();
  EXPECT_FALSE(at::equal(e0, e1));
  EXPECT_TRUE(at::equal(std::get<0>(e0.sort()), std::get<0>(e1.sort())));
}

TEST(Loader, VariableSizeImagesArePaddedWithAMask) {
  Fixture f(12, 6, "vilt:32:96:32");
  Loader l(f.manifest, opts("validation", 6, false, 0, 1));
  auto b = l.next();
  ASSERT_TRUE(b);
  // Sizes 32x64, 64x32, 96x32: the batch is padded to 96 x 64.
  EXPECT_EQ(b->pixels.size(2), 96);
  EXPECT_EQ(b->pixels.size(3), 64);
  for (int i = 0; i < 6; ++i) {
    int h = 32 + 32 * (i % 3), w = h > 32 ? 32 : 64;
    EXPECT_EQ(b->pixel_mask[i].sum().item<int64_t>(), h * w) << i;
  }
}

TEST(Loader, RegionFeaturesFollowTheirSamplesAtAnyWorldSize) {
  const int F = 3;
  Fixture f(23, 10, "fixed:8", F);
  ASSERT_TRUE(f.manifest.has_regions());
  auto ref = global_batches(f.manifest, opts("train", 6, true, 0, 1), 1, 1);
  ASSERT_EQ(ref.size(), 3u);
  ASSERT_EQ(ref[0].size(), 9u);
  for (int world = 2; world <= 4; ++world) {
    auto got = global_batches(f.manifest, opts("train", 6, true, 0, 1), world, 1);
    ASSERT_EQ(got.size(), ref.size());
    for (size_t s = 0; s < ref.size(); ++s) {
      for (size_t k = 6; k < 9; ++k) {
        EXPECT_TRUE(at::equal(ref[s][k], got[s][k])) << "world " << world << " tensor " << k;
      }
    }
  }
  // Each row holds its own sample's regions, padded with zeros and masked.
  for (const auto& batch : ref) {
    const at::Tensor &idx = batch[3], &feats = batch[6], &boxes = batch[7], &mask = batch[8];
    ASSERT_EQ(feats.sizes(), (std::vector<int64_t>{6, kMaxRegions, F}));
    ASSERT_EQ(boxes.sizes(), (std::vector<int64_t>{6, kMaxRegions, 4}));
    EXPECT_EQ(feats.dtype(), at::kFloat);
    EXPECT_EQ(mask.dtype(), at::kLong);
    for (int64_t row = 0; row < 6; ++row) {
      const int i = int(idx[row].item<int64_t>());
      const RegionFeatures want = mmaux::testing::fixture_regions(i, F);
      at::Tensor w_feats = at::zeros({kMaxRegions, F}), w_boxes = at::zeros({kMaxRegions, 4});
      if (want.count > 0) {
        w_feats.narrow(0, 0, want.count).copy_(at::tensor(want.features).reshape({want.count, F}));
        w_boxes.narrow(0, 0, want.count).copy_(at::tensor(want.boxes).reshape({want.count, 4}));
      }
      EXPECT_TRUE(at::equal(feats[row], w_feats)) << "sample " << i;
      EXPECT_TRUE(at::equal(boxes[row], w_boxes)) << "sample " << i;
      EXPECT_EQ(mask[row].sum().item<int64_t>(), want.count) << "sample " << i;
      if (want.count > 0) {
        EXPECT_EQ(mask[row][want.count - 1].item<int64_t>(), 1);
      }
    }
  }
}

TEST(Loader, ShardsWithoutRegionsGiveBatchesWithout) {
  Fixture f;
  EXPECT_FALSE(f.manifest.has_regions());
  Loader l(f.manifest, opts("train", 4, true, 0, 1));
  auto b = l.next();
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->region_features.defined());
  EXPECT_FALSE(b->region_boxes.defined());
  EXPECT_FALSE(b->region_mask.defined());
}

TEST(Loader, RegionShapesThatDisagreeWithTheManifestAreDataErrors) {
  Fixture f(6, 2, "fixed:8", 3);
  Manifest m = f.manifest;
  m.set_regions({kMaxRegions, 4, "fixture", "", "x"});
  auto msg = mmaux::testing::message_of([&] { Loader(m, opts("train", 2, true, 0, 1)); });
  EXPECT_NE(msg.find("36 region features of dimension 3, the manifest says 36 of dimension 4"),
            std::string::npos)
      << msg;
  m.set_regions({});
  msg = mmaux::testing::message_of([&] { Loader(m, opts("train", 2, true, 0, 1)); });
  EXPECT_NE(msg.find("the manifest says 0 of dimension 0"), std::string::npos) << msg;
}

TEST(Loader, BadOptionsAreConfigErrors) {
  Fixture f;
  EXPECT_THROW(Loader(f.manifest, opts("nope", 4, true, 0, 1)), ConfigError);
  EXPECT_THROW(Loader(f.manifest, opts("train", 0, true, 0, 1)), ConfigError);
  EXPECT_THROW(Loader(f.manifest, opts("train", 4, true, 2, 2)), ConfigError);
  Loader l(f.manifest, opts("train", 4, true, 0, 1));
  EXPECT_THROW(l.start_epoch(0, 99), ConfigError);
}

TEST(Loader, OptionsFromTheDataSection) {
  DataOptions d;
  d.batch_size = 8;
  d.eval_batch_size = 5;
  d.drop_last = true;
  d.prefetch = 3;
  d.loader_threads = 2;
  auto t = training_loader_options(d, 9, 1, 4);
  EXPECT_EQ(t.split, "train");
  EXPECT_EQ(t.global_batch_size, 8);
  EXPECT_TRUE(t.shuffle && t.drop_last);
  EXPECT_EQ(t.seed, 9u);
  EXPECT_EQ(t.rank, 1);
  EXPECT_EQ(t.world_size, 4);
  EXPECT_EQ(t.prefetch, 3);
  EXPECT_EQ(t.threads, 2);
  auto e = evaluation_loader_options(d, "validation", 0, 2);
  EXPECT_EQ(e.global_batch_size, 5);
  EXPECT_FALSE(e.shuffle || e.drop_last);
  EXPECT_EQ(e.split, "validation");
}

}  // namespace mmaux::data
