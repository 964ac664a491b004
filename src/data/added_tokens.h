#pragma once
// Private: the special and added tokens of a Hugging Face tokenizer and how transformers'
// PreTrainedTokenizer.tokenize (4.40) treats them in raw text, step by step:
//  1. lower-case tokenizers lower-case every character except exact occurrences of special tokens;
//  2. the text is cut at every added token (earliest start, then longest match);
//  3. a token with lstrip / rstrip eats the whitespace (Python's isspace) on its left / right
//     neighbour, single_word glues it to a neighbour that does not end / start with a space;
//  4. added tokens map to their ids, the remaining pieces go to the model's own tokenizer.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace mmaux::data {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool lstrip = false, rstrip = false, single_word = false;
  bool special = true;
  bool normalized = false;  ///< non-special tokens of lower-case tokenizers are lower-cased
};

/// One piece of a text after step 3: an added token (id >= 0) or text for the model tokenizer.
struct TextPiece {
  std::string text;
  int32_t id = -1;
};

class AddedTokens {
 public:
  /// Adds `t`, or replaces the token with the same content.
  void add(const AddedToken& t);
  /// The token with this content, or nullptr.
  const AddedToken* find(const std::string& content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  /// Step 1: Python's lower() of every character outside exact occurrences of the protected
  /// strings (the special tokens in transformers' all_special_tokens order, then non-special
  /// normalised ones); at each position the first of them that matches wins.
  std::string lower_outside(const std::string& text) const;
  /// Steps 2-4.
  std::vector<TextPiece> split(const std::string& text) const;
  /// Every token with its id and flags (for tokenizer fingerprints).
  std::string describe() const;

 private:
  std::vector<AddedToken> tokens_;
};

/// A tokenizer_config.json special-token entry: a string or {"content": ..., "lstrip": ...}.
/// Missing or null → `fallback` (with its flags).
AddedToken special_token(const nlohmann::json& cfg, const char* key, AddedToken fallback);

/// The special and added tokens of a model directory: `defaults` (the class's special tokens in
/// all_special_tokens order, overridden by their tokenizer_config.json entries), then
/// additional_special_tokens, added_tokens_decoder (whose flags win, as in transformers) and
/// added_tokens.json. `vocab_id` gives a content's id in the vocabulary (-1: absent); a special
/// token absent from the vocabulary and without an explicit id is left out (transformers would
/// give it an id beyond the vocabulary, which no model embeds). `lower` lower-cases the content
/// of normalised non-special tokens.
AddedTokens read_added_tokens(const std::filesystem::path& dir, const nlohmann::json& cfg,
                              const std::vector<AddedToken>& defaults,
                              const std::function<int32_t(const std::string&)>& vocab_id,
                              bool lower);

/// Python's str.lower() of a whole string (character by character, U+0130 → "i" + U+0307).
std::string python_lower(const std::string& utf8);
/// Python's str.strip() / lstrip() / rstrip() (isspace characters).
std::string python_lstrip(const std::string& utf8);
std::string python_rstrip(const std::string& utf8);
/// Python's str.split() (no argument): runs of isspace characters separate words.
std::vector<std::string> python_split(const std::string& utf8);

}  // namespace mmaux::data
