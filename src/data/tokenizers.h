#pragma once
// Private: the two tokenizer implementations behind Tokenizer::load, and file helpers they share.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mmaux/data/tokenizer.h"

namespace mmaux::data {

/// A tokenizer that produces (piece, id) pairs; tokenize and tokenize_to_strings keep one side.
class PieceTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> tokenize(std::string_view text) const override;
  std::vector<std::string> tokenize_to_strings(std::string_view text) const override;

 protected:
  using Emit = std::function<void(const std::string& piece, int32_t id)>;
  /// Calls `emit` for every piece of `text`, in order.
  virtual void pieces(std::string_view text, const Emit& emit) const = 0;
};

/// The file as JSON. Throws DataError naming it when it cannot be read, ConfigError when it is
/// not JSON.
nlohmann::json read_json(const std::filesystem::path& p);
/// The lines of a text file as Python reads them in text mode (universal newlines: "\n", "\r\n"
/// and "\r" end a line; no trailing empty line). Throws ConfigError for invalid UTF-8, naming
/// the file and line.
std::vector<std::string> python_lines(const std::string& text, const std::filesystem::path& p);
/// tokenizer_config.json's boolean `key` (null or absent: `fallback`).
bool json_bool(const nlohmann::json& j, const char* key, bool fallback);

/// The vocabulary id of special token `key` (tokenizer_config.json's value, else `fallback`).
/// Throws ConfigError naming `vocab_file` when the vocabulary lacks it.
int32_t required_special_id(const nlohmann::json& cfg, const char* key, const char* fallback,
                            const std::function<int32_t(const std::string&)>& vocab_id,
                            const std::filesystem::path& vocab_file);

/// transformers' BertTokenizer (BasicTokenizer + WordpieceTokenizer) from DIR/vocab.txt.
std::unique_ptr<Tokenizer> make_wordpiece(const std::filesystem::path& dir,
                                          const nlohmann::json& cfg);
/// transformers' RobertaTokenizer (GPT-2 byte-level BPE) from DIR/vocab.json + DIR/merges.txt.
std::unique_ptr<Tokenizer> make_byte_bpe(const std::filesystem::path& dir,
                                         const nlohmann::json& cfg);

}  // namespace mmaux::data
