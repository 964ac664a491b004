// Writes a synthetic, learnable data set straight into HDF5 shards and a manifest, without image
// files or a tokenizer (the GPU subset has no preprocessing): the data of the bf16 training runs
// of bench/gpu/run.sh.
//
//   make_shards --out DIR --train N [--validation N] [--test N] [--image 224] [--text 128]
//               [--vocab 30522] [--seed 1] [--shard-rows 1024]
//
// Three classes. A post of class y carries the token 1000 + y at a random place of its text with
// probability 0.7, and its image a brighter or darker band (y − 1) · 48 levels off the background
// in one of four quadrants with probability 0.7; the rest is noise (random tokens, random
// pixels), so that both modalities help and neither decides alone. Deterministic in --seed.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mmaux/core/hash.h"
#include "mmaux/data/manifest.h"
#include "mmaux/data/shard.h"

namespace {

struct Args {
  std::string out;
  std::map<std::string, int> rows{{"train", 0}, {"validation", 64}, {"test", 64}};
  int image = 224, text = 128, vocab = 30522, shard_rows = 1024;
  uint64_t seed = 1;
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "make_shards: %s\nusage: make_shards --out DIR --train N [--validation N] "
               "[--test N] [--image 224] [--text 128] [--vocab 30522] [--seed 1] "
               "[--shard-rows 1024]\n",
               problem.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (i + 1 >= argc) usage("option " + k + " needs a value");
    const std::string v = argv[i + 1];
    auto number = [&] {
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || n < 0 || n > (1L << 30)) usage(k + " must be a count, got '" + v + "'");
      return static_cast<int>(n);
    };
    if (k == "--out")
      a.out = v;
    else if (k == "--train")
      a.rows["train"] = number();
    else if (k == "--validation")
      a.rows["validation"] = number();
    else if (k == "--test")
      a.rows["test"] = number();
    else if (k == "--image")
      a.image = number();
    else if (k == "--text")
      a.text = number();
    else if (k == "--vocab")
      a.vocab = number();
    else if (k == "--seed")
      a.seed = static_cast<uint64_t>(number());
    else if (k == "--shard-rows")
      a.shard_rows = std::max(1, number());
    else
      usage("unknown option " + k);
  }
  if (a.out.empty() || a.rows["train"] == 0) usage("--out and --train are required");
  if (a.vocab < 2100 || a.text < 4 || a.image < 16)
    usage("--vocab >= 2100, --text >= 4, --image >= 16");
  return a;
}

mmaux::data::Sample make_sample(const Args& a, const std::string& split, int64_t i) {
  mmaux::SplitMix64 rng(mmaux::mix_seed(a.seed, mmaux::fnv1a64(split), static_cast<uint64_t>(i)));
  mmaux::data::Sample s;
  s.post_id = fmt::format("{}-{}", split, i);
  s.sample_index = i;
  s.label = static_cast<int32_t>(rng.below(3));
  s.length = static_cast<int32_t>(a.text / 2 + rng.below(a.text / 2 + 1));
  s.input_ids.assign(a.text, 0);
  s.input_ids[0] = 101;  // [CLS]
  for (int t = 1; t < s.length; ++t)
    s.input_ids[t] = static_cast<int32_t>(2000 + rng.below(a.vocab - 2000));
  if (rng.uniform() < 0.7) s.input_ids[1 + rng.below(s.length - 1)] = 1000 + s.label;
  s.height = s.width = a.image;
  const int64_t area = int64_t(a.image) * a.image;
  s.pixels.resize(3 * area);
  for (size_t k = 0; k < s.pixels.size(); k += 8) {  // 8 pixels from one draw: 96 + 6 bits
    const uint64_t bits = rng.next();
    for (size_t j = 0; j < 8 && k + j < s.pixels.size(); ++j) {
      s.pixels[k + j] = static_cast<uint8_t>(96 + ((bits >> (8 * j)) & 63));
    }
  }
  if (rng.uniform() < 0.7) {
    const int quadrant = static_cast<int>(rng.below(4)), half = a.image / 2;
    const int y0 = (quadrant / 2) * half, x0 = (quadrant % 2) * half;
    const int shift = (s.label - 1) * 48;
    for (int c = 0; c < 3; ++c)
      for (int y = y0; y < y0 + half; ++y)
        for (int x = x0; x < x0 + half; ++x) {
          uint8_t& p = s.pixels[c * area + int64_t(y) * a.image + x];
          p = static_cast<uint8_t>(std::clamp(p + shift, 0, 255));
        }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  namespace fs = std::filesystem;
  fs::create_directories(a.out);
  mmaux::data::Manifest m;
  m.set_dir(a.out);
  m.set_dataset("gpu-synthetic");
  m.set_class_names({"negative", "neutral", "positive"});
  m.set_text(a.text, 0, fmt::format("gpu-synthetic-v1-vocab{}", a.vocab));
  const auto preset = mmaux::data::ImagePreset::parse(fmt::format("fixed:{}", a.image));
  m.set_image_preset(preset);
  m.extra()["made_by"] = "bench/gpu/make_shards";
  for (const auto& [split, n] : a.rows) {
    if (n == 0) continue;
    mmaux::data::SplitInfo info;
    info.size = n;
    info.class_counts.assign(3, 0);
    for (int start = 0; start < n; start += a.shard_rows) {
      const std::string file = fmt::format("{}-{:05d}.h5", split, start / a.shard_rows);
      mmaux::data::ShardWriter w((fs::path(a.out) / file).string(), a.text, preset, {});
      for (int i = start; i < std::min(n, start + a.shard_rows); ++i) {
        mmaux::data::Sample s = make_sample(a, split, i);
        info.class_counts[s.label]++;
        w.append(s);
      }
      mmaux::data::ShardInfo sh = w.finish();
      sh.split = split;
      info.shards.push_back(sh);
    }
    m.set_split(split, info);
  }
  m.save(a.out);
  std::printf("wrote %s: train %d, validation %d, test %d posts, images %dx%d, text %d\n",
              a.out.c_str(), a.rows.at("train"), a.rows.at("validation"), a.rows.at("test"),
              a.image, a.image, a.text);
  return 0;
}
