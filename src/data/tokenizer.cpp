#include "mmaux/data/tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "data/unicode.h"
#include "mmaux/core/error.h"
#include "mmaux/core/hash.h"
#include "mmaux/data/text.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mmaux::data {
namespace {

std::string read_text_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  MMAUX_CHECK_CONFIG(in.good(), "cannot read '{}'", p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json read_json(const fs::path& p) {
  try {
    return json::parse(read_text_file(p));
  } catch (const json::exception& e) {
    MMAUX_THROW(ConfigError, "'{}' is not valid JSON: {}", p.string(), e.what());
  }
}

bool json_bool(const json& j, const char* key, bool fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  return j[key].get<bool>();
}

std::string lower_strip(const std::string& word, bool lower, bool strip) {
  std::string s = word;
  if (lower) {
    std::vector<int32_t> cps = to_codepoints(s);
    for (auto& cp : cps) cp = utf8proc_tolower(cp);
    s = from_codepoints(cps);
  }
  if (strip) {
    utf8proc_uint8_t* d = utf8proc_NFD(reinterpret_cast<const utf8proc_uint8_t*>(s.c_str()));
    std::vector<int32_t> cps = to_codepoints(reinterpret_cast<char*>(d));
    std::free(d);
    std::vector<int32_t> kept;
    for (int32_t cp : cps) {
      if (utf8proc_category(cp) != UTF8PROC_CATEGORY_MN) kept.push_back(cp);
    }
    s = from_codepoints(kept);
  }
  return s;
}

// -----------------------------------------------------------------------------------------------
class WordPiece : public Tokenizer {
 public:
  WordPiece(const fs::path& dir, const json& cfg) {
    std::istringstream in(read_text_file(dir / "vocab.txt"));
    std::string line;
    int32_t id = 0;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      vocab_.emplace(line, id++);  // the first of duplicate lines wins, as in HF
    }
    vocab_size_ = id;
    lower_ = json_bool(cfg, "do_lower_case", true);
    strip_ = json_bool(cfg, "strip_accents", lower_);
    cjk_ = json_bool(cfg, "tokenize_chinese_chars", true);
    auto need = [&](const char* tok) {
      auto it = vocab_.find(tok);
      MMAUX_CHECK_CONFIG(it != vocab_.end(),
                         "'{}' has no {} token; a BERT vocab.txt needs "
                         "[PAD], [UNK], [CLS] and [SEP]",
                         (dir / "vocab.txt").string(), tok);
      return it->second;
    };
    pad_id_ = need("[PAD]");
    unk_id_ = need("[UNK]");
    bos_id_ = need("[CLS]");
    eos_id_ = need("[SEP]");
    fingerprint_ = sha256_hex(fmt::format("wordpiece|{}|{}|{}|{}", lower_, strip_, cjk_,
                                          sha256_file((dir / "vocab.txt").string())))
                       .substr(0, 16);
  }
  std::string kind() const override { return "wordpiece"; }

  std::vector<std::string> tokenize_to_strings(std::string_view text) const override {
    std::vector<std::string> out;
    for (const auto& word : basic(text)) {
      auto pieces = wordpiece(word);
      out.insert(out.end(), pieces.begin(), pieces.end());
    }
    return out;
  }

  std::vector<int32_t> tokenize(std::string_view text) const override {
    std::vector<int32_t> ids;
    for (const auto& p : tokenize_to_strings(text)) {
      auto it = vocab_.find(p);
      ids.push_back(it == vocab_.end() ? unk_id_ : it->second);
    }
    return ids;
  }

 private:
  static std::string sha256_hex(const std::string& s) { return mmaux::sha256_hex(s); }

  /// BasicTokenizer: clean, split CJK, NFC, whitespace split, lower/strip, punctuation split.
  std::vector<std::string> basic(std::string_view text) const {
    std::vector<int32_t> cps = to_codepoints(nfc(repair_utf8(text)));
    std::vector<std::string> words;
    std::string cur;
    auto flush = [&] {
      if (!cur.empty()) words.push_back(lower_strip(cur, lower_, strip_));
      cur.clear();
    };
    for (int32_t cp : cps) {
      if (cp == 0 || cp == 0xFFFD || is_control(cp)) continue;
      if (is_whitespace(cp)) {
        flush();
      } else if (cjk_ && is_cjk(cp)) {
        flush();
        append_utf8(cur, cp);
        flush();
      } else {
        append_utf8(cur, cp);
      }
    }
    flush();
    // Punctuation splits after lower-casing and accent stripping, as in BERT.
    std::vector<std::string> out;
    for (const auto& w : words) {
      std::string piece;
      for (int32_t cp : to_codepoints(w)) {
        if (is_punctuation(cp)) {
          if (!piece.empty()) out.push_back(piece);
          piece.clear();
          std::string p;
          append_utf8(p, cp);
          out.push_back(p);
        } else {
          append_utf8(piece, cp);
        }
      }
      if (!piece.empty()) out.push_back(piece);
    }
    return out;
  }

  std::vector<std::string> wordpiece(const std::string& word) const {
    std::vector<int32_t> cps = to_codepoints(word);
    if (cps.size() > 100) return {"[UNK]"};
    std::vector<std::string> pieces;
    size_t start = 0;
    while (start < cps.size()) {
      size_t end = cps.size();
      std::string found;
      while (start < end) {
        std::string sub = (start > 0 ? "##" : "") + from_codepoints(std::vector<int32_t>(
                                                        cps.begin() + start, cps.begin() + end));
        if (vocab_.count(sub)) {
          found = sub;
          break;
        }
        --end;
      }
      if (found.empty()) return {"[UNK]"};
      pieces.push_back(found);
      start = end;
    }
    return pieces;
  }

  std::unordered_map<std::string, int32_t> vocab_;
  bool lower_ = true, strip_ = true, cjk_ = true;
};

// -----------------------------------------------------------------------------------------------
bool is_letter(int32_t cp) {
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return true;
    default:
      return false;
  }
}
bool is_number(int32_t cp) {
  auto c = utf8proc_category(cp);
  return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}
bool is_space(int32_t cp) { return is_whitespace(cp) || cp == '\v' || cp == '\f'; }
bool is_other(int32_t cp) { return !is_space(cp) && !is_letter(cp) && !is_number(cp); }

/// GPT-2's pre-tokenisation pattern, written out by hand (see the header).
std::vector<std::string> gpt2_pretokenize(const std::vector<int32_t>& c) {
  std::vector<std::string> out;
  const size_t n = c.size();
  auto emit = [&](size_t a, size_t b) {
    out.push_back(from_codepoints(std::vector<int32_t>(c.begin() + a, c.begin() + b)));
  };
  size_t i = 0;
  while (i < n) {
    if (c[i] == '\'' && i + 1 < n) {
      if (i + 2 < n &&
          ((c[i + 1] == 'r' && c[i + 2] == 'e') || (c[i + 1] == 'v' && c[i + 2] == 'e') ||
           (c[i + 1] == 'l' && c[i + 2] == 'l'))) {
        emit(i, i + 3);
        i += 3;
        continue;
      }
      if (c[i + 1] == 's' || c[i + 1] == 't' || c[i + 1] == 'm' || c[i + 1] == 'd') {
        emit(i, i + 2);
        i += 2;
        continue;
      }
    }
    size_t start = i;
    size_t j = (c[i] == ' ' && i + 1 < n && !is_space(c[i + 1])) ? i + 1 : i;
    if (is_letter(c[j])) {
      while (j < n && is_letter(c[j])) ++j;
    } else if (is_number(c[j])) {
      while (j < n && is_number(c[j])) ++j;
    } else if (is_other(c[j])) {
      while (j < n && is_other(c[j])) ++j;
    } else {
      // Whitespace: a run followed by a non-space leaves its last character to the next token.
      while (j < n && is_space(c[j])) ++j;
      if (j < n && j - start >= 2) --j;
    }
    emit(start, j);
    i = j;
  }
  return out;
}

class ByteBpe : public Tokenizer {
 public:
  ByteBpe(const fs::path& dir, const json& cfg) {
    json vocab = read_json(dir / "vocab.json");
    for (const auto& [tok, id] : vocab.items()) vocab_[tok] = id.get<int32_t>();
    vocab_size_ = 0;
    for (const auto& [tok, id] : vocab_) vocab_size_ = std::max<int64_t>(vocab_size_, id + 1);
    std::istringstream in(read_text_file(dir / "merges.txt"));
    std::string line;
    int rank = 0;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line.rfind("#version", 0) == 0) continue;
      auto sp = line.find(' ');
      if (sp == std::string::npos) continue;
      ranks_.emplace(line, rank++);
    }
    add_prefix_space_ = json_bool(cfg, "add_prefix_space", false);
    auto token_of = [&](const char* key, const char* fallback) {
      if (cfg.contains(key)) {
        const auto& v = cfg[key];
        if (v.is_string()) return v.get<std::string>();
        if (v.is_object() && v.contains("content")) return v["content"].get<std::string>();
      }
      return std::string(fallback);
    };
    auto need = [&](const std::string& tok) {
      auto it = vocab_.find(tok);
      MMAUX_CHECK_CONFIG(it != vocab_.end(), "'{}' has no '{}' token",
                         (dir / "vocab.json").string(), tok);
      return it->second;
    };
    bos_id_ = need(token_of("bos_token", "<s>"));
    eos_id_ = need(token_of("eos_token", "</s>"));
    pad_id_ = need(token_of("pad_token", "<pad>"));
    unk_id_ = need(token_of("unk_token", "<unk>"));
    // GPT-2's byte ↔ code point table: printable bytes map to themselves, the rest above 255.
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      byte_char_[b].clear();
      append_utf8(byte_char_[b], printable ? b : next++);
    }
    fingerprint_ = sha256_hex(fmt::format("bpe|{}|{}|{}", add_prefix_space_,
                                          sha256_file((dir / "vocab.json").string()),
                                          sha256_file((dir / "merges.txt").string())))
                       .substr(0, 16);
  }
  std::string kind() const override { return "bpe"; }

  std::vector<std::string> tokenize_to_strings(std::string_view text) const override {
    std::string t = repair_utf8(text);
    if (add_prefix_space_ && !t.empty() && t[0] != ' ') t = " " + t;
    std::vector<std::string> out;
    for (const auto& word : gpt2_pretokenize(to_codepoints(t))) {
      std::vector<std::string> symbols;
      for (unsigned char b : word) symbols.push_back(byte_char_[b]);
      bpe(symbols);
      out.insert(out.end(), symbols.begin(), symbols.end());
    }
    return out;
  }

  std::vector<int32_t> tokenize(std::string_view text) const override {
    std::vector<int32_t> ids;
    for (const auto& s : tokenize_to_strings(text)) {
      auto it = vocab_.find(s);
      ids.push_back(it == vocab_.end() ? unk_id_ : it->second);
    }
    return ids;
  }

 private:
  void bpe(std::vector<std::string>& sym) const {
    while (sym.size() > 1) {
      int best = INT_MAX;
      size_t at = 0;
      for (size_t k = 0; k + 1 < sym.size(); ++k) {
        auto it = ranks_.find(sym[k] + " " + sym[k + 1]);
        if (it != ranks_.end() && it->second < best) {
          best = it->second;
          at = k;
        }
      }
      if (best == INT_MAX) return;
      std::string a = sym[at], b = sym[at + 1];
      std::vector<std::string> merged;
      for (size_t k = 0; k < sym.size();) {
        if (k + 1 < sym.size() && sym[k] == a && sym[k + 1] == b) {
          merged.push_back(a + b);
          k += 2;
        } else {
          merged.push_back(sym[k++]);
        }
      }
      sym.swap(merged);
    }
  }

  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<std::string, int> ranks_;
  std::string byte_char_[256];
  bool add_prefix_space_ = false;
};

}  // namespace

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
  if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt")) {
    return std::make_unique<ByteBpe>(dir, cfg);
  }
  if (fs::exists(dir / "vocab.txt")) return std::make_unique<WordPiece>(dir, cfg);
  MMAUX_THROW(ConfigError,
              "model directory '{}' has no tokenizer: expected vocab.txt (WordPiece) or "
              "vocab.json + merges.txt (byte-level BPE) as in a Hugging Face model directory",
              model_dir);
}

ModelDirectory read_model_directory(const std::string& dir_text) {
  fs::path dir(dir_text);
  MMAUX_CHECK_CONFIG(fs::exists(dir / "config.json"),
                     "model directory '{}' has no config.json; give a Hugging Face model "
                     "directory (e.g. the one 'mmaux synth' writes under OUT/model)",
                     dir_text);
  json cfg = read_json(dir / "config.json");
  json tok = json::object();
  if (fs::exists(dir / "tokenizer_config.json")) tok = read_json(dir / "tokenizer_config.json");
  ModelDirectory m;
  m.dir = dir_text;
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
  return m;
}

}  // namespace mmaux::data
