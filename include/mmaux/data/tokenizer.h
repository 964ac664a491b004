#pragma once
/// Tokenizers read from a Hugging Face model directory, and the model directory's defaults.
///
/// WordPiece (BERT, ViLT: vocab.txt) follows BERT's BasicTokenizer + WordpieceTokenizer:
/// control characters dropped, CJK characters split, lower-casing and accent stripping (NFD, drop
/// combining marks) as tokenizer_config.json says, split on whitespace and punctuation, greedy
/// longest-match-first word pieces with "##", [UNK] for a word that cannot be covered.
/// Byte-level BPE (RoBERTa, Bernice: vocab.json + merges.txt) follows GPT-2: the pre-tokenisation
/// pattern 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+, bytes
/// mapped to printable code points, merges applied by rank.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mmaux/data/manifest.h"

namespace mmaux::data {

/// Token ids of one text, framed, truncated and padded to a fixed length.
struct Encoding {
  std::vector<int32_t> ids;  ///< exactly max_length ids
  int32_t length = 0;        ///< real tokens, including the frame tokens
  bool truncated = false;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  /// Sub-word ids of `text` (valid UTF-8), without frame tokens.
  virtual std::vector<int32_t> tokenize(std::string_view text) const = 0;
  /// The sub-word strings (for tests and debugging).
  virtual std::vector<std::string> tokenize_to_strings(std::string_view text) const = 0;
  /// [CLS] ids [SEP] (WordPiece) or <s> ids </s> (BPE), truncated to max_length, padded with
  /// pad_id. max_length >= 2.
  Encoding encode(std::string_view text, int max_length) const;

  int32_t pad_id() const { return pad_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t bos_id() const { return bos_id_; }  ///< [CLS] or <s>
  int32_t eos_id() const { return eos_id_; }  ///< [SEP] or </s>
  /// [MASK] (tokenizer_config.json's mask_token) when the vocabulary has it, else -1.
  int32_t mask_id() const { return mask_id_; }
  int64_t vocab_size() const { return vocab_size_; }
  /// Digest of the vocabulary files and the options: equal fingerprints tokenise identically.
  const std::string& fingerprint() const { return fingerprint_; }
  /// "wordpiece" or "bpe".
  virtual std::string kind() const = 0;

  /// Reads the tokenizer of a Hugging Face model directory: vocab.json + merges.txt (byte-level
  /// BPE) or vocab.txt (WordPiece), with tokenizer_config.json's options. Throws ConfigError
  /// naming the directory and the files looked for.
  static std::unique_ptr<Tokenizer> load(const std::string& model_dir);

 protected:
  int32_t pad_id_ = 0, unk_id_ = 0, bos_id_ = 0, eos_id_ = 0, mask_id_ = -1;
  int64_t vocab_size_ = 0;
  std::string fingerprint_;
};

/// What preprocessing takes from a model directory's config.json and tokenizer_config.json.
struct ModelDirectory {
  std::string dir;
  std::string
      tokenizer_dir;       ///< where the tokenizer files are: dir, or dir/text for text/ + image/
  std::string model_type;  ///< config.json model_type ("bert", "vilt", "roberta", ...)
  int max_text_length =
      128;  ///< max_text_length, else 40 for vilt, else min(128, model_max_length)
  bool has_image_preset = false;
  ImagePreset image_preset;    ///< image_size → fixed:N; model_type vilt → vilt
  int visual_feat_dim = 2048;  ///< config.json visual_feat_dim (LXMERT's region feature size)
};

/// Reads DIR/config.json (required) and DIR/tokenizer_config.json (optional). A directory with
/// text/ and image/ and no config.json of its own (dual-stream and MMBT models) is read from
/// text/, and its image preset comes from image/config.json: a ResNet (MMBT) gives the preset
/// resnet and a max text length of 130 (the [CLS] and [SEP] that MMBT's image block borrows plus
/// the paper's 128 word pieces), a ViT its image_size.
ModelDirectory read_model_directory(const std::string& dir);

}  // namespace mmaux::data
