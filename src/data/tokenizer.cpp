#include "mmaux/data/tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/added_tokens.h"
#include "data/tokenizers.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/data/text.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mmaux::data {

std::vector<int32_t> PieceTokenizer::tokenize(std::string_view text) const {
  std::vector<int32_t> out;
  pieces(text, [&](const std::string&, int32_t id) { out.push_back(id); });
  return out;
}

std::vector<std::string> PieceTokenizer::tokenize_to_strings(std::string_view text) const {
  std::vector<std::string> out;
  pieces(text, [&](const std::string& piece, int32_t) { out.push_back(piece); });
  return out;
}

json read_json(const fs::path& p) {
  try {
    return json::parse(read_whole_file(p.string()));
  } catch (const json::exception& e) {
    MMAUX_THROW(ConfigError, "'{}' is not valid JSON: {}", p.string(), e.what());
  }
}

bool json_bool(const json& j, const char* key, bool fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  return j[key].get<bool>();
}

int32_t required_special_id(const json& cfg, const char* key, const char* fallback,
                            const std::function<int32_t(const std::string&)>& vocab_id,
                            const fs::path& vocab_file) {
  const std::string token = special_token(cfg, key, AddedToken{fallback}).content;
  const int32_t id = vocab_id(token);
  MMAUX_CHECK_CONFIG(id >= 0, "'{}' has no {} '{}'; the tokenizer needs it", vocab_file.string(),
                     key, token);
  return id;
}

std::vector<std::string> python_lines(const std::string& text, const fs::path& p) {
  std::vector<std::string> lines;
  std::string cur;
  bool open = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      lines.push_back(std::move(cur));
      cur.clear();
      open = false;
    } else {
      cur += c;
      open = true;
    }
  }
  if (open) lines.push_back(std::move(cur));
  for (size_t i = 0; i < lines.size(); ++i) {
    MMAUX_CHECK_CONFIG(is_valid_utf8(lines[i]), "'{}' line {} is not valid UTF-8", p.string(),
                       i + 1);
  }
  return lines;
}

Encoding Tokenizer::encode(std::string_view text, int max_length) const {
  MMAUX_ASSERT(max_length >= 2, "max_length {} < 2", max_length);
  std::vector<int32_t> body = tokenize(text);
  Encoding e;
  size_t room = size_t(max_length - 2);
  if (body.size() > room) {
    body.resize(room);
    e.truncated = true;
  }
  e.ids.reserve(size_t(max_length));
  e.ids.push_back(bos_id_);
  e.ids.insert(e.ids.end(), body.begin(), body.end());
  e.ids.push_back(eos_id_);
  e.length = int32_t(e.ids.size());
  e.ids.resize(size_t(max_length), pad_id_);
  return e;
}

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& model_dir) {
  fs::path dir(model_dir);
  json cfg = json::object();
  if (fs::exists(dir / "tokenizer_config.json")) cfg = read_json(dir / "tokenizer_config.json");
  // A fastBPE vocabulary (BertweetTokenizer) is also called vocab.txt, but holds "token count"
  // lines: reading it as WordPiece would tokenize every text wrongly without a word.
  MMAUX_CHECK_CONFIG(!fs::exists(dir / "bpe.codes"),
                     "model directory '{}' has a fastBPE tokenizer (bpe.codes, as "
                     "vinai/bertweet-base's BertweetTokenizer), which mmaux does not implement; "
                     "use a WordPiece (vocab.txt) or byte-level BPE (vocab.json + merges.txt) "
                     "tokenizer",
                     model_dir);
  if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt")) {
    return make_byte_bpe(dir, cfg);
  }
  if (fs::exists(dir / "vocab.txt")) return make_wordpiece(dir, cfg);
  MMAUX_THROW(
      ConfigError,
      "model directory '{}' has no tokenizer mmaux reads: expected vocab.txt (WordPiece) or "
      "vocab.json + merges.txt (byte-level BPE) as in a Hugging Face model directory{}",
      model_dir,
      fs::exists(dir / "sentencepiece.bpe.model") || fs::exists(dir / "spiece.model")
          ? " (this directory holds a SentencePiece model, which mmaux does not read: use a "
            "checkpoint whose tokenizer is WordPiece or byte-level BPE)"
          : "");
}

namespace {

/// text/ + image/ without a config.json of its own: the text tower's directory, with the image
/// preset of the image tower.
ModelDirectory read_two_tower_directory(const fs::path& root) {
  ModelDirectory m = read_model_directory((root / "text").string());
  m.dir = root.string();
  const fs::path image_config = root / "image" / "config.json";
  MMAUX_CHECK_CONFIG(fs::exists(image_config),
                     "model directory '{}' has text/ and image/ but no {}", root.string(),
                     image_config.string());
  json image = read_json(image_config);
  const std::string arch = image.value("architecture", std::string());
  if (image.contains("layers") || arch.rfind("resnet", 0) == 0) {
    m.image_preset = ImagePreset::parse("resnet");
    m.has_image_preset = true;
    if (!image.contains("max_text_length")) m.max_text_length = 130;
  } else if (image.contains("image_size") && image["image_size"].is_number_integer()) {
    m.image_preset = ImagePreset::parse(fmt::format("fixed:{}", image["image_size"].get<int>()));
    m.has_image_preset = true;
  }
  return m;
}

}  // namespace

ModelDirectory read_model_directory(const std::string& dir_text) {
  fs::path dir(dir_text);
  if (!fs::exists(dir / "config.json") && fs::is_directory(dir / "text") &&
      fs::is_directory(dir / "image")) {
    return read_two_tower_directory(dir);
  }
  MMAUX_CHECK_CONFIG(fs::exists(dir / "config.json"),
                     "model directory '{}' has no config.json; give a Hugging Face model "
                     "directory (e.g. the one 'mmaux synth' writes under OUT/model)",
                     dir_text);
  json cfg = read_json(dir / "config.json");
  json tok = json::object();
  if (fs::exists(dir / "tokenizer_config.json")) tok = read_json(dir / "tokenizer_config.json");
  ModelDirectory m;
  m.dir = dir_text;
  m.tokenizer_dir = dir_text;
  m.model_type = cfg.value("model_type", std::string());
  if (cfg.contains("max_text_length")) {
    m.max_text_length = cfg["max_text_length"].get<int>();
  } else if (m.model_type == "vilt") {
    m.max_text_length = cfg.value("max_position_embeddings", 40);
  } else {
    double mml = tok.contains("model_max_length") && tok["model_max_length"].is_number()
                     ? tok["model_max_length"].get<double>()
                     : 128.0;
    m.max_text_length = int(std::min(128.0, mml));
  }
  MMAUX_CHECK_CONFIG(m.max_text_length >= 2, "'{}': max text length {} must be >= 2",
                     (dir / "config.json").string(), m.max_text_length);
  if (m.model_type == "vilt") {
    m.image_preset = ImagePreset::parse("vilt");
    m.has_image_preset = true;
  } else if (cfg.contains("image_size") && cfg["image_size"].is_number_integer()) {
    m.image_preset = ImagePreset::parse(fmt::format("fixed:{}", cfg["image_size"].get<int>()));
    m.has_image_preset = true;
  }
  m.visual_feat_dim = cfg.value("visual_feat_dim", m.visual_feat_dim);
  MMAUX_CHECK_CONFIG(m.visual_feat_dim >= 1 && m.visual_feat_dim <= (1 << 16),
                     "'{}': visual_feat_dim {} must be in 1..65536", (dir / "config.json").string(),
                     m.visual_feat_dim);
  return m;
}

}  // namespace mmaux::data
