#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "mmaux/core/csv.h"
#include "mmaux/core/files.h"
#include "mmaux/data/image.h"
#include "mmaux/data/regions.h"
#include "mmaux/data/synth.h"
#include "support/test_support.h"

namespace mmaux::data {
using mmaux::testing::TempDir;

TEST(Synth, DeterministicPerSeedAndMixesRespected) {
  SynthOptions o;
  o.posts = 300;
  o.seed = 5;
  auto a = generate_synth_posts(o);
  auto b = generate_synth_posts(o);
  ASSERT_EQ(a.size(), 300u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].text, b[i].text);
    EXPECT_EQ(a[i].label, b[i].label);
  }
  o.seed = 6;
  auto c = generate_synth_posts(o);
  int same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i].text == c[i].text;
  EXPECT_LT(same, 100);
  o.relation_mix = "1,0,0";
  o.decided_by_mix = "0,0,1";
  for (const auto& p : generate_synth_posts(o)) {
    EXPECT_EQ(p.relation, 0);
    EXPECT_EQ(p.decided_by, "both");
  }
  o.relation_mix = "1,0";
  EXPECT_THROW(generate_synth_posts(o), ConfigError);
}

// The label needs both modalities: rule-based oracles that read only the text, only the decoded
// image, or both, scored on the files written.
TEST(Synth, LabelNeedsBothModalities) {
  TempDir dir;
  SynthOptions o;
  o.out = dir.path().string();
  o.posts = 600;
  o.seed = 3;
  o.label_noise = 0.05;
  o.png_fraction = 0.3;
  auto posts = write_synth_dataset(o);
  auto records = parse_csv(read_whole_file((dir / "posts.csv").string()));
  ASSERT_EQ(records.size(), posts.size() + 1);
  int text_ok = 0, image_ok = 0, both_ok = 0;
  for (size_t i = 0; i < posts.size(); ++i) {
    const auto& f = records[i + 1].fields;
    int label = int(std::find(synth_class_names().begin(), synth_class_names().end(), f[2]) -
                    synth_class_names().begin());
    int t = synth_text_mood(f[1]);
    Image img = load_image((dir / f[6]).string(), ImagePreset::parse("fixed:64"));
    int v = synth_image_mood(img);
    EXPECT_EQ(t, posts[i].text_mood) << f[1];
    EXPECT_EQ(v, posts[i].image_mood) << f[6];
    // Absent cues fall back to class 0, the best guess when nothing is known.
    int text_guess = t >= 0 ? t : 0;
    int image_guess = v >= 0 ? v : 0;
    int both_guess = t >= 0 && v >= 0 ? (t + v) % 3 : t >= 0 ? t : v >= 0 ? v : 0;
    text_ok += text_guess == label;
    image_ok += image_guess == label;
    both_ok += both_guess == label;
  }
  double n = double(posts.size());
  double text_acc = text_ok / n, image_acc = image_ok / n, both_acc = both_ok / n;
  std::printf("oracle accuracy: text only %.3f, image only %.3f, both %.3f\n", text_acc, image_acc,
              both_acc);
  EXPECT_GT(both_acc, 0.9);
  EXPECT_LT(text_acc, 0.7);
  EXPECT_LT(image_acc, 0.7);
  EXPECT_GT(both_acc - std::max(text_acc, image_acc), 0.25)
      << "text " << text_acc << " image " << image_acc << " both " << both_acc;
}

// Synthetic region features (for LXMERT) carry the image's signal as the pixels do: an oracle on
// the regions of OUT/regions.h5 recovers every image mood, and with the text it decides the label.
TEST(Synth, RegionFeaturesCarryTheImageSignal) {
  TempDir dir;
  SynthOptions o;
  o.out = dir.path().string();
  o.posts = 400;
  o.seed = 4;
  o.region_feature_dim = 16;
  auto posts = write_synth_dataset(o);
  auto cfg = nlohmann::json::parse(read_whole_file((dir / "model/config.json").string()));
  EXPECT_EQ(cfg["visual_feat_dim"], 16);
  auto src = open_region_h5((dir / "regions.h5").string());
  int both_ok = 0, region_ok = 0, counts[2] = {kMaxRegions, 0};
  for (const auto& p : posts) {
    RegionFeatures r = src->read(p.post_id, 16);
    EXPECT_NO_THROW(validate_regions(r, 16, p.post_id));
    const RegionFeatures again = synth_regions(p, 64, 64, o.seed, 16);
    EXPECT_EQ(r.features, again.features) << p.post_id;
    EXPECT_EQ(r.boxes, again.boxes) << p.post_id;
    counts[0] = std::min(counts[0], int(r.count));
    counts[1] = std::max(counts[1], int(r.count));
    const int v = synth_region_mood(r, 16);
    EXPECT_EQ(v, p.image_mood) << p.post_id;
    const int t = synth_text_mood(p.text);
    const int both = t >= 0 && v >= 0 ? (t + v) % 3 : t >= 0 ? t : v >= 0 ? v : 0;
    both_ok += both == p.label;
    region_ok += (v >= 0 ? v : 0) == p.label;
  }
  const double n = double(posts.size());
  std::printf("region oracle accuracy: regions only %.3f, text + regions %.3f; %d..%d regions\n",
              region_ok / n, both_ok / n, counts[0], counts[1]);
  EXPECT_GT(both_ok / n, 0.9);
  EXPECT_LT(region_ok / n, 0.7);
  EXPECT_EQ(counts[0], 8);
  EXPECT_EQ(counts[1], kMaxRegions);
  // Another seed, other features (and the same seed and post, the same features: above).
  EXPECT_NE(synth_regions(posts[0], 64, 64, o.seed + 1, 16).features,
            synth_regions(posts[0], 64, 64, o.seed, 16).features);
}

TEST(Synth, ModelDirectoryMatchesTheContract) {
  TempDir dir;
  SynthOptions o;
  o.out = dir.path().string();
  o.posts = 20;
  write_synth_dataset(o);
  auto cfg = nlohmann::json::parse(read_whole_file((dir / "model/config.json").string()));
  EXPECT_EQ(cfg["model_type"], "bert");
  EXPECT_EQ(cfg["mmaux_preset"], "tiny");
  EXPECT_EQ(cfg["image_size"], 64);
  EXPECT_EQ(cfg["patch_size"], 16);
  EXPECT_EQ(cfg["max_text_length"], 32);
  EXPECT_EQ(cfg["max_position_embeddings"], 64);
  EXPECT_FALSE(cfg.contains("visual_feat_dim"));
  EXPECT_FALSE(std::filesystem::exists(dir / "regions.h5"));
  auto vocab = read_whole_file((dir / "model/vocab.txt").string());
  EXPECT_EQ(vocab.rfind("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n", 0), 0u);
  EXPECT_EQ(cfg["vocab_size"].get<int64_t>(), std::count(vocab.begin(), vocab.end(), '\n'));
  auto tok = nlohmann::json::parse(read_whole_file((dir / "model/tokenizer_config.json").string()));
  EXPECT_EQ(tok["do_lower_case"], true);
  EXPECT_EQ(tok["model_max_length"], 32);
}

// Unlabeled posts: new draws of the same generator (not copies of labelled posts), the same for
// the same seed, written to OUT/unlabeled without a label column; the labelled files do not change.
TEST(Synth, UnlabeledPostsAreNewDrawsOfTheSameGenerator) {
  SynthOptions o;
  o.posts = 30;
  o.unlabeled = 40;
  o.seed = 9;
  auto labelled = generate_synth_posts(o);
  auto a = generate_unlabeled_synth_posts(o);
  auto b = generate_unlabeled_synth_posts(o);
  ASSERT_EQ(a.size(), 40u);
  std::set<std::string> ids;
  for (const auto& p : labelled) ids.insert(p.post_id);
  int same_text = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].post_id, fmt::format("u{:06d}", k));
    EXPECT_EQ(a[k].text, b[k].text);
    EXPECT_EQ(ids.count(a[k].post_id), 0u);
    if (k < labelled.size()) same_text += a[k].text == labelled[k].text;
  }
  EXPECT_LT(same_text, 10);  // other draws than labelled post k
  // Drawn as labelled posts are: every relation and decision kind occurs.
  std::set<std::string> decided;
  for (const auto& p : a) decided.insert(p.decided_by);
  EXPECT_EQ(decided.size(), 3u);

  TempDir with, without;
  o.threads = 2;
  o.out = with.path().string();
  write_synth_dataset(o);
  o.out = without.path().string();
  o.unlabeled = 0;
  write_synth_dataset(o);
  EXPECT_EQ(read_whole_file((with / "posts.csv").string()),
            read_whole_file((without / "posts.csv").string()));
  EXPECT_FALSE(std::filesystem::exists(without / "unlabeled"));
  auto records = parse_csv(read_whole_file((with / "unlabeled" / "posts.csv").string()));
  ASSERT_EQ(records.size(), 41u);
  EXPECT_EQ(records[0].fields, (std::vector<std::string>{"post_id", "text", "image"}));
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(records[k + 1].fields,
              (std::vector<std::string>{a[k].post_id, a[k].text, a[k].image_file}));
    EXPECT_TRUE(std::filesystem::exists(with / "unlabeled" / a[k].image_file)) << a[k].image_file;
  }
}

}  // namespace mmaux::data
