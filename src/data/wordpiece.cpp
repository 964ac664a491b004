// transformers' BertTokenizer (4.40): PreTrainedTokenizer.tokenize's handling of special tokens,
// then BasicTokenizer and WordpieceTokenizer, each step as transformers writes it.
#include <utf8proc.h>

#include <cstdlib>
#include <set>
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

/// NFD, then every non-spacing mark (Mn) dropped: BasicTokenizer._run_strip_accents.
std::string strip_accents(const std::string& s) {
  utf8proc_uint8_t* d = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
      &d, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
  std::string decomposed =
      n < 0 ? s : std::string(reinterpret_cast<char*>(d), static_cast<size_t>(n));
  std::free(d);
  std::string out;
  for (int32_t cp : to_codepoints(decomposed)) {
    if (utf8proc_category(cp) != UTF8PROC_CATEGORY_MN) append_utf8(out, cp);
  }
  return out;
}

/// BertTokenizer's special tokens in all_special_tokens order (bos / eos only when configured).
std::vector<AddedToken> bert_specials(const json& cfg) {
  std::vector<AddedToken> out;
  for (auto [key, content] : {std::pair{"bos_token", ""},
                              {"eos_token", ""},
                              {"unk_token", "[UNK]"},
                              {"sep_token", "[SEP]"},
                              {"pad_token", "[PAD]"},
                              {"cls_token", "[CLS]"},
                              {"mask_token", "[MASK]"}}) {
    AddedToken t = special_token(cfg, key, AddedToken{content});
    if (!t.content.empty()) out.push_back(t);
  }
  return out;
}

class WordPiece : public PieceTokenizer {
 public:
  WordPiece(const fs::path& dir, const json& cfg);
  std::string kind() const override { return "wordpiece"; }

 private:
  void pieces(std::string_view text, const Emit& emit) const override;
  std::vector<std::string> basic(const std::string& text) const;
  std::vector<std::string> split_on_punctuation(const std::string& token) const;
  std::vector<std::string> wordpiece(const std::string& word) const;
  int32_t id_of(const std::string& piece) const;

  std::unordered_map<std::string, int32_t> vocab_;
  AddedTokens added_;
  std::set<std::string> never_split_;  ///< the config's never_split (kept whole, no word pieces)
  std::set<std::string> no_split_;     ///< never_split + the special tokens (BasicTokenizer)
  std::string unk_token_ = "[UNK]";
  bool lower_ = true, strip_ = true, cjk_ = true, basic_ = true, split_punctuation_ = true;
};

WordPiece::WordPiece(const fs::path& dir, const json& cfg) {
  const fs::path vocab_file = dir / "vocab.txt";
  const std::vector<std::string> lines =
      python_lines(read_whole_file(vocab_file.string()), vocab_file);
  for (size_t i = 0; i < lines.size(); ++i) {
    vocab_[lines[i]] = static_cast<int32_t>(i);  // a later duplicate wins, as in load_vocab
  }
  vocab_size_ = static_cast<int64_t>(lines.size());
  lower_ = json_bool(cfg, "do_lower_case", true);
  strip_ = json_bool(cfg, "strip_accents", lower_);
  cjk_ = json_bool(cfg, "tokenize_chinese_chars", true);
  basic_ = json_bool(cfg, "do_basic_tokenize", true);
  split_punctuation_ = json_bool(cfg, "do_split_on_punc", true);
  if (auto it = cfg.find("never_split"); it != cfg.end() && it->is_array()) {
    for (const auto& w : *it) never_split_.insert(w.get<std::string>());
  }
  auto vocab_id = [&](const std::string& s) {
    auto it = vocab_.find(s);
    return it == vocab_.end() ? -1 : it->second;
  };
  // Lower-casing of raw text exists only with a BasicTokenizer (transformers asks it).
  added_ = read_added_tokens(dir, cfg, bert_specials(cfg), vocab_id, basic_ && lower_);
  no_split_ = never_split_;
  for (const auto& t : added_.tokens()) {
    if (t.special) no_split_.insert(t.content);
  }
  pad_id_ = required_special_id(cfg, "pad_token", "[PAD]", vocab_id, vocab_file);
  unk_id_ = required_special_id(cfg, "unk_token", "[UNK]", vocab_id, vocab_file);
  bos_id_ = required_special_id(cfg, "cls_token", "[CLS]", vocab_id, vocab_file);
  eos_id_ = required_special_id(cfg, "sep_token", "[SEP]", vocab_id, vocab_file);
  unk_token_ = special_token(cfg, "unk_token", AddedToken{"[UNK]"}).content;
  mask_id_ = vocab_id(special_token(cfg, "mask_token", AddedToken{"[MASK]"}).content);
  fingerprint_ = sha256_hex(fmt::format("wordpiece2|{}|{}|{}|{}|{}|{}|{}|{}", lower_, strip_, cjk_,
                                        basic_, split_punctuation_, fmt::join(never_split_, " "),
                                        added_.describe(), sha256_file(vocab_file.string())))
                     .substr(0, 16);
}

int32_t WordPiece::id_of(const std::string& piece) const {
  if (const AddedToken* t = added_.find(piece)) return t->id;
  auto it = vocab_.find(piece);
  return it == vocab_.end() ? unk_id_ : it->second;
}

void WordPiece::pieces(std::string_view text, const Emit& emit) const {
  std::string t = repair_utf8(text);  // std::string: a NUL is a character, not the end
  if (basic_ && lower_) t = added_.lower_outside(t);
  for (const TextPiece& piece : added_.split(t)) {
    if (piece.id >= 0) {
      emit(piece.text, piece.id);
      continue;
    }
    for (const std::string& token : basic_ ? basic(piece.text) : python_split(piece.text)) {
      if (basic_ && never_split_.count(token)) {
        emit(token, id_of(token));
        continue;
      }
      for (const std::string& p : wordpiece(token)) emit(p, id_of(p));
    }
  }
}

/// BasicTokenizer.tokenize: clean, space out CJK, NFC, split on Python whitespace, lower-case and
/// strip accents, split on punctuation, split again.
std::vector<std::string> WordPiece::basic(const std::string& text) const {
  std::string cleaned;
  for (int32_t cp : to_codepoints(text)) {
    if (cp == 0 || cp == 0xFFFD || is_control(cp)) continue;
    if (is_whitespace(cp)) {
      cleaned += ' ';
    } else if (cjk_ && is_cjk(cp)) {
      cleaned += ' ';
      append_utf8(cleaned, cp);
      cleaned += ' ';
    } else {
      append_utf8(cleaned, cp);
    }
  }
  std::vector<std::string> out;
  for (std::string token : python_split(nfc(cleaned))) {
    if (no_split_.count(token) == 0) {
      if (lower_) token = python_lower(token);
      if (strip_) token = strip_accents(token);
    }
    // Asked again after lower-casing, as transformers does.
    for (const std::string& part :
         no_split_.count(token) ? std::vector<std::string>{token} : split_on_punctuation(token)) {
      for (std::string& word : python_split(part)) out.push_back(std::move(word));
    }
  }
  return out;
}

std::vector<std::string> WordPiece::split_on_punctuation(const std::string& token) const {
  if (!split_punctuation_) return {token};
  std::vector<std::string> out;
  bool start_new = true;
  for (int32_t cp : to_codepoints(token)) {
    if (is_punctuation(cp)) {
      out.emplace_back();
      append_utf8(out.back(), cp);
      start_new = true;
    } else {
      if (start_new) out.emplace_back();
      start_new = false;
      append_utf8(out.back(), cp);
    }
  }
  return out;
}

/// Greedy longest-match-first word pieces; a word longer than 100 characters or that cannot be
/// covered is the unknown token.
std::vector<std::string> WordPiece::wordpiece(const std::string& word) const {
  const std::vector<int32_t> cps = to_codepoints(word);
  if (cps.size() > 100) return {unk_token_};
  std::vector<std::string> out;
  size_t start = 0;
  while (start < cps.size()) {
    size_t end = cps.size();
    std::string found;
    while (start < end) {
      std::string sub =
          (start > 0 ? "##" : "") +
          from_codepoints(std::vector<int32_t>(cps.begin() + static_cast<std::ptrdiff_t>(start),
                                               cps.begin() + static_cast<std::ptrdiff_t>(end)));
      if (vocab_.count(sub)) {
        found = std::move(sub);
        break;
      }
      --end;
    }
    if (found.empty()) return {unk_token_};
    out.push_back(std::move(found));
    start = end;
  }
  return out;
}

}  // namespace

std::unique_ptr<Tokenizer> make_wordpiece(const fs::path& dir, const json& cfg) {
  return std::make_unique<WordPiece>(dir, cfg);
}

}  // namespace mmaux::data
