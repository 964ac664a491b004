#include "unit/data/data_fixture.h"

#include <fmt/format.h>

#include <filesystem>

#include "mmaux/data/shard.h"

namespace mmaux::testing {

data::RegionFeatures fixture_regions(int i, int region_dim) {
  data::RegionFeatures r;
  r.count = (5 * i) % (data::kMaxRegions + 1);
  for (int q = 0; q < r.count; ++q) {
    for (int k = 0; k < region_dim; ++k) r.features.push_back(float(i) + q / 100.0f + k / 1e4f);
    for (float v : {q / 40.0f, 0.5f, q / 40.0f + 0.01f, 1.0f}) r.boxes.push_back(v);
  }
  return r;
}

data::Manifest write_fixture_dataset(const std::string& dir,
                                     const std::map<std::string, int>& split_sizes, int shard_size,
                                     const std::string& preset_text, int region_dim) {
  std::filesystem::create_directories(dir);
  data::Manifest m;
  m.set_dir(dir);
  m.set_dataset("fixture");
  m.set_class_names({"a", "b", "c"});
  m.set_relation_names({"describes", "unrelated"});
  const int L = 6;
  m.set_text(L, 0, "fixture-tokenizer");
  auto preset = data::ImagePreset::parse(preset_text);
  m.set_image_preset(preset);
  for (const auto& [split, n] : split_sizes) {
    data::SplitInfo info;
    info.size = n;
    info.class_counts.assign(3, 0);
    info.relation_counts.assign(2, 0);
    for (int start = 0; start < n; start += shard_size) {
      auto file = fmt::format("{}-{:05d}.h5", split, start / shard_size);
      data::ShardWriter w((std::filesystem::path(dir) / file).string(), L, preset, {"note"},
                          region_dim);
      for (int i = start; i < std::min(n, start + shard_size); ++i) {
        data::Sample s;
        s.post_id = fmt::format("{}-{}", split, i);
        s.input_ids.assign(L, 0);
        s.length = 1 + i % L;
        for (int t = 0; t < s.length; ++t) s.input_ids[t] = i + 5 + t;
        // Variable presets get images of varying size; fixed ones the full canvas.
        s.height = preset.variable_size() ? 32 + 32 * (i % 3) : preset.storage_height();
        s.width = preset.variable_size() ? (s.height > 32 ? 32 : 64) : preset.storage_width();
        s.pixels.assign(size_t(3) * s.height * s.width, 0);
        for (int p = 0; p < s.height * s.width; ++p) s.pixels[p] = uint8_t((i * 7) % 256);
        s.label = i % 3;
        s.relation = i % 2;
        s.sample_index = i;
        s.meta = {fmt::format("note{}", i)};
        if (region_dim > 0) s.regions = fixture_regions(i, region_dim);
        info.class_counts[s.label]++;
        info.relation_counts[s.relation]++;
        w.append(s);
      }
      auto sh = w.finish();
      sh.split = split;
      info.shards.push_back(sh);
    }
    m.set_split(split, info);
  }
  if (region_dim > 0) m.set_regions({data::kMaxRegions, region_dim, "fixture", dir, "fixture"});
  m.save(dir);
  return m;
}

}  // namespace mmaux::testing
