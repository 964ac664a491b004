#include "mmaux/data/input_spec.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/strings.h"
#include "mmaux/data/preprocess.h"
#include "mmaux/data/text.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mmaux::data {
namespace {

// Every file Tokenizer::load may read.
const char* kTokenizerFiles[] = {"vocab.txt",         "vocab.json",
                                 "merges.txt",        "tokenizer_config.json",
                                 "added_tokens.json", "special_tokens_map.json"};

// The steps prepare_text applies, named for a reader of predict_config.json (Python users
// reproduce them from this list and the README).
const std::vector<std::string> kTextSteps = {
    "repair invalid UTF-8 with U+FFFD (reject when > 10 % of characters)",
    "html entities unescaped",
    "@mentions -> @USER",
    "links -> HTTPURL",
    "runs of 4+ identical punctuation cut to 3",
    "whitespace runs collapsed and trimmed (reject when empty)"};

template <typename T>
T field(const json& j, const char* key, const std::string& file) {
  MMAUX_CHECK_CONFIG(j.contains(key),
                     "'{}' has no '{}'; it is not a predict_config.json "
                     "written by this version of mmaux",
                     file, key);
  try {
    return j.at(key).get<T>();
  } catch (const json::exception& e) {
    MMAUX_THROW(ConfigError, "'{}': '{}' has the wrong type: {}", file, key, e.what());
  }
}

// One number when the channels share it (the form of every preset before per-channel
// statistics), else [R, G, B]: as manifest.json writes them.
json channels_json(const std::array<float, 3>& v) {
  return v[0] == v[1] && v[1] == v[2] ? json(v[0]) : json(v);
}

std::array<float, 3> channels(const json& v, const char* key, const std::string& file) {
  try {
    if (v.is_array()) return v.get<std::array<float, 3>>();
    const float x = v.get<float>();
    return {x, x, x};
  } catch (const json::exception& e) {
    MMAUX_THROW(ConfigError, "'{}': '{}' must be a number or three numbers: {}", file, key,
                e.what());
  }
}

}  // namespace

InputSpec input_spec_from_manifest(const Manifest& m) {
  InputSpec s;
  s.max_length = m.text_max_length();
  s.pad_id = m.pad_id();
  s.tokenizer_fingerprint = m.tokenizer_fingerprint();
  s.preset = m.image_preset();
  s.class_names = m.class_names();
  s.relation_names = m.relation_names();
  s.dataset = m.dataset();
  s.data_fingerprint = m.fingerprint();
  return s;
}

std::string input_spec_json(const InputSpec& s) {
  json j = {{"schema", kInputSpecSchema},
            {"text",
             {{"max_length", s.max_length},
              {"pad_id", s.pad_id},
              {"tokenizer_dir", kTokenizerSubdir},
              {"tokenizer_kind", s.tokenizer_kind},
              {"tokenizer_fingerprint", s.tokenizer_fingerprint},
              {"frame", s.tokenizer_kind == "bpe" ? "<s> ids </s>" : "[CLS] ids [SEP]"},
              {"normalisation", kTextSteps}}},
            {"image",
             {{"preset", s.preset.to_string()},
              {"mean", channels_json(s.preset.mean)},
              {"std", channels_json(s.preset.std)},
              {"pixels", "RGB, channel-first, (x / 255 - mean) / std"},
              {"resize", "PIL BILINEAR (JPEG: DCT pre-shrink), see README Images"},
              {"max_pixels", s.limits.max_pixels},
              {"max_bytes", s.limits.max_bytes}}},
            {"class_names", s.class_names},
            {"relation_names", s.relation_names},
            {"dataset", s.dataset},
            {"data_fingerprint", s.data_fingerprint}};
  return j.dump(2) + "\n";
}

void write_input_spec(const std::string& dir, const InputSpec& spec,
                      const std::string& tokenizer_dir) {
  auto tokenizer = Tokenizer::load(tokenizer_dir);
  MMAUX_CHECK_CONFIG(tokenizer->fingerprint() == spec.tokenizer_fingerprint,
                     "the tokenizer in '{}' has fingerprint {}, the data was preprocessed with "
                     "{}: it is not the same tokenizer",
                     tokenizer_dir, tokenizer->fingerprint(), spec.tokenizer_fingerprint);
  InputSpec s = spec;
  s.tokenizer_kind = tokenizer->kind();
  copy_tokenizer_files(tokenizer_dir, (fs::path(dir) / kTokenizerSubdir).string());
  write_file_atomic((fs::path(dir) / kInputSpecFile).string(), input_spec_json(s));
}

void copy_tokenizer_files(const std::string& from_dir, const std::string& to_dir) {
  fs::create_directories(to_dir);
  for (const char* name : kTokenizerFiles) {
    const fs::path from = fs::path(from_dir) / name;
    if (fs::exists(from)) {
      write_file_atomic((fs::path(to_dir) / name).string(), read_whole_file(from.string()));
    }
  }
}

bool has_input_spec(const std::string& dir) { return fs::exists(fs::path(dir) / kInputSpecFile); }

InputSpec read_input_spec(const std::string& dir) {
  const std::string file = (fs::path(dir) / kInputSpecFile).string();
  MMAUX_CHECK_CONFIG(
      fs::exists(file),
      "'{}' has no {}: it was written by an mmaux without 'predict' (or is not a model "
      "directory of 'mmaux train'), so it does not say how raw posts were preprocessed "
      "(tokenizer, image preset, classes); train again with this version, whose RUN/best carries "
      "them",
      dir, kInputSpecFile);
  json j;
  try {
    j = json::parse(read_whole_file(file));
  } catch (const json::exception& e) {
    MMAUX_THROW(ConfigError, "'{}' is not valid JSON: {}", file, e.what());
  }
  const int schema = field<int>(j, "schema", file);
  MMAUX_CHECK_CONFIG(schema == kInputSpecSchema, "'{}' has schema {}, this mmaux reads {}", file,
                     schema, kInputSpecSchema);
  const json text = field<json>(j, "text", file), image = field<json>(j, "image", file);
  InputSpec s;
  s.max_length = field<int64_t>(text, "max_length", file);
  s.pad_id = field<int64_t>(text, "pad_id", file);
  s.tokenizer_kind = field<std::string>(text, "tokenizer_kind", file);
  s.tokenizer_fingerprint = field<std::string>(text, "tokenizer_fingerprint", file);
  s.preset = ImagePreset::parse(field<std::string>(image, "preset", file));
  s.preset.mean = channels(field<json>(image, "mean", file), "mean", file);
  s.preset.std = channels(field<json>(image, "std", file), "std", file);
  s.limits.max_pixels = field<int64_t>(image, "max_pixels", file);
  s.limits.max_bytes = field<int64_t>(image, "max_bytes", file);
  s.class_names = field<std::vector<std::string>>(j, "class_names", file);
  s.relation_names = field<std::vector<std::string>>(j, "relation_names", file);
  s.dataset = field<std::string>(j, "dataset", file);
  s.data_fingerprint = field<std::string>(j, "data_fingerprint", file);
  MMAUX_CHECK_CONFIG(s.max_length >= 2 && !s.class_names.empty(),
                     "'{}': max_length {} must be >= 2 and class_names non-empty", file,
                     s.max_length);
  return s;
}

std::unique_ptr<Tokenizer> load_spec_tokenizer(const std::string& dir, const InputSpec& spec) {
  const std::string tok_dir = (fs::path(dir) / kTokenizerSubdir).string();
  auto tokenizer = Tokenizer::load(tok_dir);
  MMAUX_CHECK_CONFIG(tokenizer->fingerprint() == spec.tokenizer_fingerprint,
                     "the tokenizer in '{}' has fingerprint {}, {} says {}: the files were "
                     "changed after training",
                     tok_dir, tokenizer->fingerprint(), kInputSpecFile, spec.tokenizer_fingerprint);
  return tokenizer;
}

PreparedText prepare_text(std::string_view raw, const Tokenizer& tokenizer, int max_length) {
  PreparedText r;
  int bad = 0;
  std::string text = repair_utf8(raw, &bad);
  if (bad > 0) {
    size_t chars = to_codepoints(text).size();
    if (size_t(bad) * 10 > chars) {
      r.reason = skip_reason::kInvalidUtf8;
      r.detail = fmt::format("{} of {} characters are invalid UTF-8", bad, chars);
      return r;
    }
    r.repaired = true;
  }
  text = normalize_tweet(text);
  if (trim(text).empty()) {
    r.reason = skip_reason::kEmptyText;
    r.detail = "no text after normalisation";
    return r;
  }
  r.encoding = tokenizer.encode(text, max_length);
  r.ok = true;
  return r;
}

PixelTable pixel_table(const ImagePreset& preset) {
  PixelTable lut{};
  for (size_t c = 0; c < 3; ++c) {
    const float scale = 1.0f / (255.0f * preset.std[c]);
    for (size_t v = 0; v < 256; ++v) lut[c][v] = float(v) * scale - preset.mean[c] / preset.std[c];
  }
  return lut;
}

}  // namespace mmaux::data
