#include "data/added_tokens.h"

#include "data/tokenizers.h"
#include "data/unicode.h"
#include "mmaux/core/error.h"
#include "mmaux/core/log.h"
#include "mmaux/data/text.h"

namespace mmaux::data {

namespace fs = std::filesystem;
using nlohmann::json;

std::string python_lower(const std::string& utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (int32_t cp : to_codepoints(utf8)) append_python_lower(out, cp);
  return out;
}

std::string python_lstrip(const std::string& utf8) {
  std::vector<int32_t> cps = to_codepoints(utf8);
  size_t a = 0;
  while (a < cps.size() && is_python_space(cps[a])) ++a;
  return from_codepoints(
      std::vector<int32_t>(cps.begin() + static_cast<std::ptrdiff_t>(a), cps.end()));
}

std::string python_rstrip(const std::string& utf8) {
  std::vector<int32_t> cps = to_codepoints(utf8);
  while (!cps.empty() && is_python_space(cps.back())) cps.pop_back();
  return from_codepoints(cps);
}

std::vector<std::string> python_split(const std::string& utf8) {
  std::vector<std::string> words;
  std::string cur;
  for (int32_t cp : to_codepoints(utf8)) {
    if (is_python_space(cp)) {
      if (!cur.empty()) words.push_back(cur);
      cur.clear();
    } else {
      append_utf8(cur, cp);
    }
  }
  if (!cur.empty()) words.push_back(cur);
  return words;
}

void AddedTokens::add(const AddedToken& t) {
  for (auto& have : tokens_) {
    if (have.content == t.content) {
      have = t;
      return;
    }
  }
  tokens_.push_back(t);
}

const AddedToken* AddedTokens::find(const std::string& content) const {
  for (const auto& t : tokens_) {
    if (t.content == content) return &t;
  }
  return nullptr;
}

std::string AddedTokens::lower_outside(const std::string& text) const {
  std::vector<const std::string*> kept;  // transformers' regex alternatives, in order
  for (const auto& t : tokens_) {
    if (t.special) kept.push_back(&t.content);
  }
  for (const auto& t : tokens_) {
    if (!t.special && t.normalized) kept.push_back(&t.content);
  }
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const std::string* hit = nullptr;
    for (const std::string* k : kept) {
      if (!k->empty() && text.compare(i, k->size(), *k) == 0) {
        hit = k;
        break;
      }
    }
    if (hit != nullptr) {
      out += *hit;
      i += hit->size();
      continue;
    }
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(&text[i]),
                                          static_cast<utf8proc_ssize_t>(text.size() - i), &cp);
    if (n <= 0) {  // invalid UTF-8 (callers repair it first): keep the byte
      out.push_back(text[i++]);
      continue;
    }
    append_python_lower(out, cp);
    i += static_cast<size_t>(n);
  }
  return out;
}

std::vector<TextPiece> AddedTokens::split(const std::string& text) const {
  // 2. Cut at added tokens: the earliest start, then the longest content (UTF-8 contents start
  // with a lead byte, so byte matches fall on character boundaries).
  std::vector<std::string> parts;
  size_t start = 0, i = 0;
  while (i < text.size()) {
    const AddedToken* best = nullptr;
    for (const auto& t : tokens_) {
      if (!t.content.empty() && text.compare(i, t.content.size(), t.content) == 0 &&
          (best == nullptr || t.content.size() > best->content.size())) {
        best = &t;
      }
    }
    if (best == nullptr) {
      ++i;
      continue;
    }
    if (i > start) parts.push_back(text.substr(start, i - start));
    parts.push_back(best->content);
    i += best->content.size();
    start = i;
  }
  if (start < text.size()) parts.push_back(text.substr(start));
  // 3. Whitespace around tokens, with transformers' order of updates (left and right are the
  // neighbours before this token's changes).
  for (size_t k = 0; k < parts.size(); ++k) {
    const AddedToken* t = find(parts[k]);
    if (t == nullptr) continue;
    const std::string token = parts[k];
    const std::string left = k > 0 ? parts[k - 1] : "",
                      right = k + 1 < parts.size() ? parts[k + 1] : "";
    if (t->rstrip && !right.empty()) parts[k + 1] = python_lstrip(right);
    if (t->lstrip && !left.empty()) parts[k - 1] = python_rstrip(left);
    if (t->single_word && !left.empty() && left.back() != ' ') {
      parts[k - 1] += token;
      parts[k].clear();
    } else if (t->single_word && !right.empty() && right.front() != ' ') {
      parts[k] += right;
      parts[k + 1].clear();
    }
  }
  // 4. Added tokens by id, the rest as text.
  std::vector<TextPiece> out;
  for (auto& p : parts) {
    if (p.empty()) continue;
    const AddedToken* t = find(p);
    out.push_back({std::move(p), t != nullptr ? t->id : -1});
  }
  return out;
}

std::string AddedTokens::describe() const {
  std::string out;
  for (const auto& t : tokens_) {
    out += fmt::format("{}={}:{}{}{}{}{};", t.content, t.id, t.lstrip, t.rstrip, t.single_word,
                       t.special, t.normalized);
  }
  return out;
}

AddedToken special_token(const json& cfg, const char* key, AddedToken fallback) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return fallback;
  AddedToken t = fallback;
  if (it->is_string()) {
    t.content = it->get<std::string>();
    return t;
  }
  MMAUX_CHECK_CONFIG(it->is_object() && it->contains("content") && (*it)["content"].is_string(),
                     "tokenizer_config.json: '{}' must be a string or an object with 'content'",
                     key);
  t.content = (*it)["content"].get<std::string>();
  t.lstrip = it->value("lstrip", fallback.lstrip);
  t.rstrip = it->value("rstrip", fallback.rstrip);
  t.single_word = it->value("single_word", fallback.single_word);
  t.normalized = it->value("normalized", fallback.normalized);
  return t;
}

namespace {

void add_decoder_entries(const json& cfg, const fs::path& dir, std::vector<AddedToken>& out) {
  auto it = cfg.find("added_tokens_decoder");
  if (it == cfg.end() || !it->is_object()) return;
  for (auto e = it->begin(); e != it->end(); ++e) {
    int32_t id = -1;
    try {
      id = std::stoi(e.key());
    } catch (const std::exception&) {
    }
    MMAUX_CHECK_CONFIG(id >= 0 && e->is_object() && e->contains("content"),
                       "'{}': added_tokens_decoder entry '{}' needs an integer id and a content",
                       (dir / "tokenizer_config.json").string(), e.key());
    AddedToken t;
    t.id = id;
    t.content = (*e)["content"].get<std::string>();
    t.lstrip = e->value("lstrip", false);
    t.rstrip = e->value("rstrip", false);
    t.single_word = e->value("single_word", false);
    t.special = e->value("special", false);
    t.normalized = e->value("normalized", !t.special);
    out.push_back(t);
  }
}

}  // namespace

AddedTokens read_added_tokens(const fs::path& dir, const json& cfg,
                              const std::vector<AddedToken>& defaults,
                              const std::function<int32_t(const std::string&)>& vocab_id,
                              bool lower) {
  std::vector<AddedToken> all = defaults;
  if (auto it = cfg.find("additional_special_tokens"); it != cfg.end() && it->is_array()) {
    for (size_t k = 0; k < it->size(); ++k) {
      json one = json::object({{"t", (*it)[k]}});
      all.push_back(special_token(one, "t", AddedToken{}));
    }
  }
  add_decoder_entries(cfg, dir, all);
  if (fs::exists(dir / "added_tokens.json")) {
    const json extra = read_json(dir / "added_tokens.json");
    for (auto e = extra.begin(); extra.is_object() && e != extra.end(); ++e) {
      AddedToken t;
      t.content = e.key();
      t.id = e->is_number_integer() ? e->get<int32_t>() : -1;
      t.special = false;
      t.normalized = true;
      all.push_back(t);
    }
  }
  AddedTokens merged;  // later entries replace earlier ones with the same content
  for (const AddedToken& t : all) merged.add(t);
  AddedTokens out;
  for (AddedToken t : merged.tokens()) {
    if (t.id < 0) t.id = vocab_id(t.content);
    if (t.id < 0) {
      log_warn("data", "'{}': special token '{}' is not in the vocabulary; it is tokenized as text",
               dir.string(), t.content);
      continue;
    }
    if (!t.special && t.normalized && lower) t.content = python_lower(t.content);
    out.add(t);
  }
  return out;
}

}  // namespace mmaux::data
