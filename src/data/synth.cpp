#include "mmaux/data/synth.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "mmaux/core/csv.h"
#include "mmaux/core/error.h"
#include "mmaux/core/hash.h"
#include "mmaux/core/strings.h"
#include "mmaux/core/worker_pool.h"
#include "mmaux/data/text.h"

namespace fs = std::filesystem;

namespace mmaux::data {
namespace {

const char* kObjects[] = {"circle", "square", "triangle", "cross", "ring", "bar"};
const char* kColours[] = {"red", "green", "blue", "yellow", "purple", "orange"};
const uint8_t kRgb[][3] = {{210, 40, 40},  {40, 160, 60},  {40, 70, 200},
                           {230, 200, 30}, {140, 50, 170}, {240, 130, 20}};
const char* kMoodWords[3][4] = {{"hate", "awful", "terrible", "sad"},
                                {"okay", "ordinary", "average", "plain"},
                                {"love", "great", "wonderful", "amazing"}};
const char* kTopics[] = {"coffee", "homework", "train", "weekend", "meeting", "garden", "dinner"};
const char* kNeutralOpeners[] = {"just saw", "look at", "here is", "today:"};

std::vector<double> parse_mix(const std::string& text, size_t n, const char* what) {
  std::vector<double> w;
  if (text.empty()) return std::vector<double>(n, 1.0);
  for (const auto& part : split(text, ',')) {
    try {
      w.push_back(std::stod(trim(part)));
    } catch (const std::exception&) {
      MMAUX_THROW(ConfigError, "--{} '{}': '{}' is not a number", what, text, part);
    }
  }
  double sum = 0;
  for (double v : w) sum += v;
  MMAUX_CHECK_CONFIG(w.size() == n, "--{} '{}' has {} weights, expected {}", what, text, w.size(),
                     n);
  MMAUX_CHECK_CONFIG(sum > 0 && *std::min_element(w.begin(), w.end()) >= 0,
                     "--{} '{}': weights must be >= 0 with a positive sum", what, text);
  return w;
}

int draw(SplitMix64& rng, const std::vector<double>& w) {
  double sum = 0;
  for (double v : w) sum += v;
  double u = rng.uniform() * sum;
  for (size_t i = 0; i < w.size(); ++i) {
    if (u < w[i]) return int(i);
    u -= w[i];
  }
  return int(w.size() - 1);
}

std::string make_text(SplitMix64& rng, const SynthPost& p) {
  std::string subject;
  if (p.relation == 0) {
    subject = fmt::format("the {} {}", kColours[p.colour], kObjects[p.object]);
  } else if (p.relation == 1) {
    subject = fmt::format("a {}", kObjects[p.object]);
  } else {
    subject = fmt::format("my {}", kTopics[rng.below(7)]);
  }
  std::string text;
  if (p.text_mood >= 0) {
    const char* word = kMoodWords[p.text_mood][rng.below(4)];
    switch (rng.below(3)) {
      case 0:
        text = fmt::format("{} is {}", subject, word);
        break;
      case 1:
        text = fmt::format("{}, {}", word, subject);
        break;
      default:
        text = fmt::format("feeling {} about {}", word, subject);
    }
  } else {
    text = fmt::format("{} {}", kNeutralOpeners[rng.below(4)], subject);
  }
  // Tweet-like noise that the normaliser must handle.
  if (rng.uniform() < 0.2) text = fmt::format("@user{} {}", rng.below(1000), text);
  if (rng.uniform() < 0.15) text += fmt::format(" https://t.co/{:x}", rng.next() % 0xffffff);
  if (rng.uniform() < 0.1) text += " !!!!!";
  if (rng.uniform() < 0.05) text += " &amp; more";
  return text;
}

// Unlabeled post k is drawn as post kUnlabeledIndex + k: the same generator, indices no labelled
// data set reaches.
constexpr uint64_t kUnlabeledIndex = uint64_t{1} << 40;

struct Mixes {
  std::vector<double> classes, relations, decided;
  explicit Mixes(const SynthOptions& o)
      : classes(parse_mix(o.class_balance, 3, "class-balance")),
        relations(parse_mix(o.relation_mix, 3, "relation-mix")),
        decided(parse_mix(o.decided_by_mix, 3, "decided-by-mix")) {}
};

// Post `index` of the generator, named `post_id`.
SynthPost draw_post(const SynthOptions& o, const Mixes& mix, uint64_t index, std::string post_id) {
  SplitMix64 rng(mix_seed(o.seed, index, 0x73796e7468ULL));
  SynthPost p;
  p.post_id = std::move(post_id);
  int label = draw(rng, mix.classes);
  p.relation = draw(rng, mix.relations);
  int by = draw(rng, mix.decided);
  p.decided_by = by == 0 ? "text" : by == 1 ? "image" : "both";
  if (by == 0) {
    p.text_mood = label;
  } else if (by == 1) {
    p.image_mood = label;
  } else {
    p.text_mood = int(rng.below(3));
    p.image_mood = (label - p.text_mood + 3) % 3;
  }
  p.object = int(rng.below(6));
  p.colour = int(rng.below(6));
  p.text = make_text(rng, p);
  p.label = rng.uniform() < o.label_noise ? int(rng.below(3)) : label;
  double u = rng.uniform();
  p.split = u < 0.8 ? "train" : u < 0.9 ? "validation" : "test";
  p.image_file =
      fmt::format("images/{}.{}", p.post_id, rng.uniform() < o.png_fraction ? "png" : "jpg");
  return p;
}

}  // namespace

std::vector<SynthPost> generate_synth_posts(const SynthOptions& o) {
  const Mixes mix(o);
  std::vector<SynthPost> posts;
  for (int i = 0; i < o.posts; ++i) {
    posts.push_back(draw_post(o, mix, uint64_t(i), fmt::format("s{:06d}", i)));
  }
  return posts;
}

std::vector<SynthPost> generate_unlabeled_synth_posts(const SynthOptions& o) {
  const Mixes mix(o);
  std::vector<SynthPost> posts;
  for (int k = 0; k < o.unlabeled; ++k) {
    posts.push_back(draw_post(o, mix, kUnlabeledIndex + uint64_t(k), fmt::format("u{:06d}", k)));
  }
  return posts;
}

namespace {

/// Where a post's image puts its object: the first draws of the image's generator, shared by
/// draw_synth_image and synth_regions so that region boxes match the pixels.
struct Layout {
  uint8_t bg[3];
  int band_top;
  double size, cx, cy;
};

SplitMix64 image_rng(const SynthPost& p, uint64_t seed) {
  return SplitMix64(mix_seed(seed, std::hash<std::string>{}(p.post_id), 0x696d67ULL));
}

Layout draw_layout(SplitMix64& rng, int width, int height) {
  Layout l;
  for (auto& c : l.bg) c = uint8_t(200 + rng.below(40));
  l.band_top = height * 3 / 4;
  l.size = std::min(width, l.band_top) * (0.25 + 0.1 * rng.uniform());
  l.cx = l.size + rng.uniform() * std::max(1.0, width - 2 * l.size);
  l.cy = l.size + rng.uniform() * std::max(1.0, l.band_top - 2 * l.size);
  return l;
}

}  // namespace

Image draw_synth_image(const SynthPost& p, int width, int height, uint64_t seed) {
  SplitMix64 rng = image_rng(p, seed);
  Image img;
  img.width = width;
  img.height = height;
  const size_t plane = size_t(width) * height;
  img.pixels.resize(3 * plane);
  const Layout layout = draw_layout(rng, width, height);
  const uint8_t* bg = layout.bg;
  const int band_top = layout.band_top;
  const double size = layout.size, cx = layout.cx, cy = layout.cy;
  const int period = std::max(2, std::min(width, height) / 16);
  const uint8_t* fg = kRgb[p.colour];
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double dx = (x - cx) / size, dy = (y - cy) / size;
      bool inside = false;
      if (y < band_top) {
        switch (p.object) {
          case 0:
            inside = dx * dx + dy * dy <= 1.0;
            break;
          case 1:
            inside = std::abs(dx) <= 0.8 && std::abs(dy) <= 0.8;
            break;
          case 2:
            inside = dy <= 0.8 && dy >= -0.9 && std::abs(dx) <= (dy + 0.9) * 0.6;
            break;
          case 3:
            inside = (std::abs(dx) <= 0.25 && std::abs(dy) <= 1) ||
                     (std::abs(dy) <= 0.25 && std::abs(dx) <= 1);
            break;
          case 4: {
            double r = dx * dx + dy * dy;
            inside = r <= 1.0 && r >= 0.45;
            break;
          }
          default:
            inside = std::abs(dx) <= 1.0 && std::abs(dy) <= 0.3;
        }
      }
      uint8_t px[3] = {bg[0], bg[1], bg[2]};
      if (inside) std::copy(fg, fg + 3, px);
      if (y >= band_top && p.image_mood >= 0) {
        bool dark = p.image_mood == 0   ? (y / period) % 2 == 0
                    : p.image_mood == 1 ? (x / period) % 2 == 0
                                        : ((x / period) + (y / period)) % 2 == 0;
        if (dark) px[0] = px[1] = px[2] = 40;
      }
      for (int c = 0; c < 3; ++c) {
        int noisy = int(px[c]) + int(rng.below(9)) - 4;
        img.pixels[c * plane + size_t(y) * width + x] = uint8_t(std::clamp(noisy, 0, 255));
      }
    }
  }
  return img;
}

namespace {

// Region prototypes: sparse non-negative vectors (like the detector's ReLU-pooled RoI features),
// fixed for all data sets. Kinds: 0 object shapes, 1 colours, 2 moods, 3 plain band, 4 background.
std::vector<float> prototype(int kind, int index, int dim) {
  SplitMix64 rng(mix_seed(0x70726f746fULL, uint64_t(kind), uint64_t(index)));
  std::vector<float> v(size_t(dim), 0.0f);
  for (auto& x : v) {
    if (rng.uniform() < 0.25) x = float(0.5 + 1.5 * rng.uniform());
  }
  return v;
}

constexpr float kRegionNoise = 0.05f;

void add_region(RegionFeatures& r, const std::vector<const std::vector<float>*>& parts,
                const float box[4], SplitMix64& rng, int dim) {
  for (int k = 0; k < dim; ++k) {
    float v = float(kRegionNoise * rng.uniform());
    for (const auto* p : parts) v += (*p)[size_t(k)];
    r.features.push_back(v);
  }
  for (int k = 0; k < 4; ++k) r.boxes.push_back(std::clamp(box[k], 0.0f, 1.0f));
  ++r.count;
}

}  // namespace

RegionFeatures synth_regions(const SynthPost& p, int width, int height, uint64_t seed, int dim) {
  SplitMix64 image = image_rng(p, seed);
  const Layout l = draw_layout(image, width, height);
  SplitMix64 rng(mix_seed(seed, fnv1a64(p.post_id), 0x726567ULL));
  const float W = float(width), H = float(height), top = float(l.band_top) / H;
  const auto object = prototype(0, p.object, dim), colour = prototype(1, p.colour, dim);
  const auto band = p.image_mood >= 0 ? prototype(2, p.image_mood, dim) : prototype(3, 0, dim);
  const auto background = prototype(4, 0, dim);
  const int total = 8 + int(rng.below(kMaxRegions - 7));  // 8 .. 36 regions
  RegionFeatures r;
  const float obj[4] = {float(l.cx - l.size) / W, float(l.cy - l.size) / H,
                        float(l.cx + l.size) / W, float(l.cy + l.size) / H};
  add_region(r, {&object, &colour}, obj, rng, dim);
  for (int k = 0; k < 3; ++k) {  // the band, in thirds
    const float b[4] = {k / 3.0f, top, (k + 1) / 3.0f, 1.0f};
    add_region(r, {&band}, b, rng, dim);
  }
  while (r.count < total) {
    const float x = float(rng.uniform()) * 0.8f, y = float(rng.uniform()) * top * 0.8f;
    const float b[4] = {x, y, x + 0.2f * float(rng.uniform()), y + 0.2f * float(rng.uniform())};
    add_region(r, {&background}, b, rng, dim);
  }
  // Detectors order regions by score, not by kind: shuffle them (Fisher-Yates).
  for (int i = r.count - 1; i > 0; --i) {
    const int j = int(rng.below(uint64_t(i + 1)));
    std::swap_ranges(r.features.begin() + i * dim, r.features.begin() + (i + 1) * dim,
                     r.features.begin() + j * dim);
    std::swap_ranges(r.boxes.begin() + i * 4, r.boxes.begin() + (i + 1) * 4,
                     r.boxes.begin() + j * 4);
  }
  return r;
}

int synth_region_mood(const RegionFeatures& r, int dim) {
  int best = -1;
  double best_cos = 0.9;  // a region "is" a mood band only when it points at the prototype
  for (int m = 0; m < 3; ++m) {
    const auto proto = prototype(2, m, dim);
    double pp = 0;
    for (float v : proto) pp += double(v) * v;
    for (int i = 0; i < r.count; ++i) {
      const float* x = &r.features[size_t(i) * dim];
      double xp = 0, xx = 0;
      for (int k = 0; k < dim; ++k) {
        xp += double(x[k]) * proto[size_t(k)];
        xx += double(x[k]) * x[k];
      }
      const double c = xp / std::sqrt(std::max(pp * xx, 1e-30));
      if (c > best_cos) {
        best_cos = c;
        best = m;
      }
    }
  }
  return best;
}

int synth_text_mood(const std::string& text) {
  std::string lower = text;
  for (auto& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  std::string word;
  for (size_t i = 0; i <= lower.size(); ++i) {
    char c = i < lower.size() ? lower[i] : ' ';
    if (std::isalpha(static_cast<unsigned char>(c))) {
      word.push_back(c);
      continue;
    }
    for (int m = 0; m < 3; ++m) {
      for (const char* w : kMoodWords[m]) {
        if (word == w) return m;
      }
    }
    word.clear();
  }
  return -1;
}

int synth_image_mood(const Image& img) {
  // Mean absolute difference between vertical and between horizontal neighbours in the band.
  const int w = img.width, h = img.height;
  const size_t plane = size_t(w) * h;
  auto lum = [&](int x, int y) {
    size_t k = size_t(y) * w + x;
    return (int(img.pixels[k]) + img.pixels[plane + k] + img.pixels[2 * plane + k]) / 3;
  };
  double vert = 0, horiz = 0, dark = 0;
  int count = 0;
  for (int y = h * 3 / 4 + 1; y < h - 1; ++y) {
    for (int x = 1; x < w - 1; ++x) {
      vert += std::abs(lum(x, y + 1) - lum(x, y));
      horiz += std::abs(lum(x + 1, y) - lum(x, y));
      dark += lum(x, y) < 120 ? 1 : 0;
      ++count;
    }
  }
  if (count == 0 || dark / count < 0.2) return -1;
  vert /= count;
  horiz /= count;
  if (vert > 2 * horiz) return 0;
  if (horiz > 2 * vert) return 1;
  return 2;
}

namespace {

// DIR/images/*, DIR/regions.h5 (with region features) and DIR/posts.csv; unlabeled posts get
// only the post_id, text and image columns.
void write_posts(const fs::path& dir, const std::vector<SynthPost>& posts, const SynthOptions& o,
                 bool labelled) {
  fs::create_directories(dir / "images");
  const int width = o.image_size, height = o.image_height > 0 ? o.image_height : o.image_size;
  parallel_for(posts.size(), worker_count(o.threads), [&](size_t i) {
    save_image((dir / posts[i].image_file).string(),
               draw_synth_image(posts[i], width, height, o.seed));
  });
  if (o.region_feature_dim > 0) {
    RegionFileWriter regions((dir / "regions.h5").string());
    for (const auto& p : posts) {
      regions.add(p.post_id, synth_regions(p, width, height, o.seed, o.region_feature_dim),
                  o.region_feature_dim);
    }
    regions.close();
  }
  std::ofstream csv(dir / "posts.csv", std::ios::binary);
  MMAUX_CHECK(csv.good(), "cannot write '{}'", (dir / "posts.csv").string());
  csv << (labelled ? "post_id,text,label,split,relation,decided_by,image\n"
                   : "post_id,text,image\n");
  for (const auto& p : posts) {
    csv << (labelled ? csv_row({p.post_id, p.text, synth_class_names()[p.label], p.split,
                                synth_relation_names()[p.relation], p.decided_by, p.image_file})
                     : csv_row({p.post_id, p.text, p.image_file}));
  }
}

// The vocabulary covers the normalised, lower-cased texts split at spaces and punctuation.
void add_words(const std::string& text, std::set<std::string>& words) {
  std::string word;
  for (char c : normalize_tweet(text) + " ") {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      word.push_back(char(std::tolower(u)));
      continue;
    }
    if (!word.empty()) words.insert(word);
    word.clear();
    if (!std::isspace(u)) words.insert(std::string(1, c));
  }
}

}  // namespace

std::vector<SynthPost> write_synth_dataset(const SynthOptions& o) {
  MMAUX_CHECK_CONFIG(!o.out.empty(), "synth: give --out DIR");
  auto posts = generate_synth_posts(o);
  auto unlabeled = generate_unlabeled_synth_posts(o);
  fs::path out(o.out);
  fs::create_directories(out / "model");
  write_posts(out, posts, o, true);
  if (!unlabeled.empty()) write_posts(out / "unlabeled", unlabeled, o, false);
  std::set<std::string> words;
  for (const auto& p : posts) add_words(p.text, words);
  for (const auto& p : unlabeled) add_words(p.text, words);
  // Single characters and their continuations so that any ASCII word can be covered.
  for (int c = 33; c < 127; ++c) {
    if (std::isupper(c)) continue;
    words.insert(std::string(1, char(c)));
    if (std::isalnum(c)) words.insert("##" + std::string(1, char(c)));
  }
  std::ofstream vocab(out / "model" / "vocab.txt");
  int64_t vocab_size = 0;
  for (const char* special : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    vocab << special << "\n";
    ++vocab_size;
  }
  for (const auto& w : words) {
    vocab << w << "\n";
    ++vocab_size;
  }
  nlohmann::json tok = {{"do_lower_case", true}, {"model_max_length", 32}};
  std::ofstream(out / "model" / "tokenizer_config.json") << tok.dump(2) << "\n";
  nlohmann::json cfg = {{"model_type", "bert"},     {"mmaux_preset", "tiny"},
                        {"vocab_size", vocab_size}, {"max_position_embeddings", 64},
                        {"image_size", 64},         {"patch_size", 16},
                        {"max_text_length", 32}};
  if (o.region_feature_dim > 0) cfg["visual_feat_dim"] = o.region_feature_dim;
  std::ofstream(out / "model" / "config.json") << cfg.dump(2) << "\n";
  return posts;
}

}  // namespace mmaux::data
