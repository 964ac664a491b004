#pragma once
/// How raw posts become model inputs, recorded with a trained model so that new posts can be
/// scored exactly as the training data was preprocessed (`mmaux predict`, `mmaux export`).
///
/// A model directory that carries it holds:
///   predict_config.json  schema, text (max length, pad id, tokenizer kind and fingerprint, the
///                        normalisation steps), image (preset, normalisation mean/std, limits),
///                        class and relation names, the data set and its fingerprint;
///   tokenizer/           the Hugging Face tokenizer files preprocessing read (vocab.txt or
///                        vocab.json + merges.txt, tokenizer_config.json, added_tokens.json,
///                        special_tokens_map.json where present).
/// prepare_text() is the text step of preprocessing itself (the pipeline calls it), and images
/// go through load_image with the same preset and limits, so the inputs are bit-identical.
/// Not collective.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mmaux/data/image.h"
#include "mmaux/data/manifest.h"
#include "mmaux/data/tokenizer.h"

namespace mmaux::data {

/// The predict_config.json schema written by this build; readers accept it only.
inline constexpr int kInputSpecSchema = 1;
/// File names inside a model directory.
inline constexpr const char* kInputSpecFile = "predict_config.json";
inline constexpr const char* kTokenizerSubdir = "tokenizer";

struct InputSpec {
  int64_t max_length = 0;  ///< token ids per text, frame tokens included
  int64_t pad_id = 0;
  std::string tokenizer_kind;         ///< "wordpiece" or "bpe"
  std::string tokenizer_fingerprint;  ///< Tokenizer::fingerprint() of tokenizer/
  ImagePreset preset;
  ImageLimits limits;  ///< preprocessing's defaults (options may change them)
  std::vector<std::string> class_names;
  std::vector<std::string> relation_names;
  std::string dataset;
  std::string data_fingerprint;  ///< Manifest::fingerprint() of the training data
};

/// The spec of a preprocessed data set (limits: preprocessing's defaults).
InputSpec input_spec_from_manifest(const Manifest& manifest);

/// predict_config.json's content.
std::string input_spec_json(const InputSpec& spec);

/// Copies the Hugging Face tokenizer files of `from_dir` that exist (vocab.txt or vocab.json +
/// merges.txt, tokenizer_config.json, added_tokens.json, special_tokens_map.json) into `to_dir`
/// (created), each written atomically. Not collective.
void copy_tokenizer_files(const std::string& from_dir, const std::string& to_dir);

/// Writes `dir`/predict_config.json and copies the tokenizer files of `tokenizer_dir` into
/// `dir`/tokenizer/. Throws ConfigError when the tokenizer there does not have the spec's
/// fingerprint (it is not the tokenizer the data was preprocessed with).
void write_input_spec(const std::string& dir, const InputSpec& spec,
                      const std::string& tokenizer_dir);

/// True when `dir` holds predict_config.json.
bool has_input_spec(const std::string& dir);

/// Reads `dir`/predict_config.json. Throws ConfigError naming the directory when it is absent
/// (a checkpoint written before predict existed: what it lacks and how to get it) or malformed.
InputSpec read_input_spec(const std::string& dir);

/// The tokenizer of `dir`/tokenizer/, checked against the spec's fingerprint (ConfigError).
std::unique_ptr<Tokenizer> load_spec_tokenizer(const std::string& dir, const InputSpec& spec);

/// What prepare_text() made of one raw text.
struct PreparedText {
  bool ok = false;
  std::string reason;  ///< skip_reason::kInvalidUtf8 or kEmptyText when !ok
  std::string detail;
  Encoding encoding;
  bool repaired = false;  ///< invalid UTF-8 bytes were replaced by U+FFFD
};

/// Preprocessing's text step: invalid UTF-8 repaired (more than 10 % invalid characters:
/// rejected), tweet normalisation (normalize_tweet), empty after it: rejected; then framed,
/// truncated and padded token ids. Thread-safe.
PreparedText prepare_text(std::string_view raw, const Tokenizer& tokenizer, int max_length);

/// Normalised value of each 8-bit sample, per channel (R, G, B): lut[c][v] = (v/255 - mean[c]) /
/// std[c].
using PixelTable = std::array<std::array<float, 256>, 3>;

/// The 256 normalised values (x/255 − mean)/std of a uint8 pixel, computed as the loader does.
PixelTable pixel_table(const ImagePreset& preset);

}  // namespace mmaux::data
