#include "preprocessing/fixture_util.h"

#include "mmaux/data/image.h"
#include "support/test_support.h"

namespace mmaux::testing {

void write_image(const std::filesystem::path& path, int shade) {
  data::Image img;
  img.width = 24;
  img.height = 16;
  img.pixels.assign(size_t(3) * 24 * 16, uint8_t(shade));
  std::filesystem::create_directories(path.parent_path());
  data::save_image(path.string(), img);
}

std::string write_tiny_model(const std::filesystem::path& dir) {
  std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n@\nuser\nhttpurl\n";
  for (char c = 'a'; c <= 'z'; ++c) vocab += std::string(1, c) + "\n##" + std::string(1, c) + "\n";
  write_file(dir / "vocab.txt", vocab);
  write_file(dir / "tokenizer_config.json", R"({"do_lower_case": true, "model_max_length": 12})");
  write_file(dir / "config.json",
             R"({"model_type": "bert", "image_size": 16, "max_text_length": 12})");
  return dir.string();
}

PreprocessOptions preprocess_options(const std::string& dataset, const std::filesystem::path& raw,
                                     const std::filesystem::path& out,
                                     const std::filesystem::path& model) {
  PreprocessOptions o;
  o.dataset = parse_option<DatasetKind>("dataset", dataset);
  o.raw = raw.string();
  o.out = out.string();
  o.model = model.string();
  o.threads = 2;
  o.shard_size = 4;
  o.max_skip_fraction = 1.0;
  return o;
}

}  // namespace mmaux::testing
