// transformers' RobertaTokenizer (4.40): prefix space, special tokens in raw text (<mask> eats
// the whitespace on its left), GPT-2's pre-tokenisation pattern, bytes mapped to printable code
// points, merges applied by rank.
#include <algorithm>
#include <climits>
#include <unordered_map>

#include "data/added_tokens.h"
#include "data/tokenizers.h"
#include "data/unicode.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/hash.h"
#include "mmaux/data/text.h"

namespace mmaux::data {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

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
/// `\s` of the pattern: the regex module's Unicode White_Space.
bool is_space(int32_t cp) { return is_white_space(cp); }
bool is_other(int32_t cp) { return !is_space(cp) && !is_letter(cp) && !is_number(cp); }

/// GPT-2's pre-tokenisation pattern, written out by hand:
/// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
std::vector<std::string> gpt2_pretokenize(const std::vector<int32_t>& c) {
  std::vector<std::string> out;
  const size_t n = c.size();
  auto emit = [&](size_t a, size_t b) {
    out.push_back(from_codepoints(std::vector<int32_t>(
        c.begin() + static_cast<std::ptrdiff_t>(a), c.begin() + static_cast<std::ptrdiff_t>(b))));
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

/// merges.txt as transformers reads it: read().split("\n")[1:-1] in text mode (universal
/// newlines), so the first line is always skipped and so is the last piece (empty when the file
/// ends with a newline; the last merge otherwise); each line is split on whitespace and only
/// pairs can ever match. A later duplicate gets the later rank.
std::unordered_map<std::string, int> read_merges(const std::string& text) {
  std::string unified;
  unified.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      unified += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      unified += text[i];
    }
  }
  std::vector<std::string> pieces;
  size_t start = 0;
  for (size_t i = 0; i <= unified.size(); ++i) {
    if (i == unified.size() || unified[i] == '\n') {
      pieces.push_back(unified.substr(start, i - start));
      start = i + 1;
    }
  }
  std::unordered_map<std::string, int> ranks;
  for (size_t k = 1; k + 1 < pieces.size(); ++k) {
    std::vector<std::string> pair = python_split(pieces[k]);
    if (pair.size() == 2) ranks[pair[0] + " " + pair[1]] = static_cast<int>(k - 1);
  }
  return ranks;
}

class ByteBpe : public PieceTokenizer {
 public:
  ByteBpe(const fs::path& dir, const json& cfg);
  std::string kind() const override { return "bpe"; }

 private:
  void pieces(std::string_view text, const Emit& emit) const override;
  void bpe(std::vector<std::string>& symbols) const;
  int32_t id_of(const std::string& piece) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<std::string, int> ranks_;
  AddedTokens added_;
  std::string byte_char_[256];
  bool add_prefix_space_ = false;
};

ByteBpe::ByteBpe(const fs::path& dir, const json& cfg) {
  json vocab = read_json(dir / "vocab.json");
  MMAUX_CHECK_CONFIG(vocab.is_object(), "'{}' must be a JSON object of token ids",
                     (dir / "vocab.json").string());
  for (const auto& [tok, id] : vocab.items()) vocab_[tok] = id.get<int32_t>();
  vocab_size_ = 0;
  for (const auto& [tok, id] : vocab_) vocab_size_ = std::max<int64_t>(vocab_size_, id + 1);
  ranks_ = read_merges(read_whole_file((dir / "merges.txt").string()));
  add_prefix_space_ = json_bool(cfg, "add_prefix_space", false);
  // all_special_tokens order; the mask token eats the whitespace on its left.
  std::vector<AddedToken> defaults;
  for (auto [key, content] : {std::pair{"bos_token", "<s>"},
                              {"eos_token", "</s>"},
                              {"unk_token", "<unk>"},
                              {"sep_token", "</s>"},
                              {"pad_token", "<pad>"},
                              {"cls_token", "<s>"}}) {
    defaults.push_back(special_token(cfg, key, AddedToken{content}));
  }
  AddedToken mask{"<mask>"};
  mask.lstrip = true;
  defaults.push_back(special_token(cfg, "mask_token", mask));
  auto vocab_id = [&](const std::string& s) {
    auto it = vocab_.find(s);
    return it == vocab_.end() ? -1 : it->second;
  };
  added_ = read_added_tokens(dir, cfg, defaults, vocab_id, false);
  const fs::path vocab_file = dir / "vocab.json";
  bos_id_ = required_special_id(cfg, "cls_token", "<s>", vocab_id, vocab_file);
  eos_id_ = required_special_id(cfg, "sep_token", "</s>", vocab_id, vocab_file);
  pad_id_ = required_special_id(cfg, "pad_token", "<pad>", vocab_id, vocab_file);
  unk_id_ = required_special_id(cfg, "unk_token", "<unk>", vocab_id, vocab_file);
  // GPT-2's byte ↔ code point table: printable bytes map to themselves, the rest above 255.
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    byte_char_[b].clear();
    append_utf8(byte_char_[b], printable ? b : next++);
  }
  fingerprint_ = sha256_hex(fmt::format("bpe2|{}|{}|{}|{}", add_prefix_space_, added_.describe(),
                                        sha256_file((dir / "vocab.json").string()),
                                        sha256_file((dir / "merges.txt").string())))
                     .substr(0, 16);
}

int32_t ByteBpe::id_of(const std::string& piece) const {
  if (const AddedToken* t = added_.find(piece)) return t->id;
  auto it = vocab_.find(piece);
  return it == vocab_.end() ? unk_id_ : it->second;
}

void ByteBpe::pieces(std::string_view text, const Emit& emit) const {
  std::string t = repair_utf8(text);
  if (add_prefix_space_ && !t.empty() && !is_python_space(to_codepoints(t.substr(0, 4))[0])) {
    t = " " + t;  // prepare_for_tokenization
  }
  for (const TextPiece& piece : added_.split(t)) {
    if (piece.id >= 0) {
      emit(piece.text, piece.id);
      continue;
    }
    for (const auto& word : gpt2_pretokenize(to_codepoints(piece.text))) {
      std::vector<std::string> symbols;
      for (unsigned char b : word) symbols.push_back(byte_char_[b]);
      bpe(symbols);
      for (const auto& s : symbols) emit(s, id_of(s));
    }
  }
}

void ByteBpe::bpe(std::vector<std::string>& sym) const {
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

}  // namespace

std::unique_ptr<Tokenizer> make_byte_bpe(const fs::path& dir, const json& cfg) {
  return std::make_unique<ByteBpe>(dir, cfg);
}

}  // namespace mmaux::data
