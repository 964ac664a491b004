#pragma once
/// The masked-language-modelling head of Hugging Face's BertForMaskedLM / BertForPreTraining
/// (`cls.predictions.*`): transform = dense (D → D), GELU, LayerNorm; decoder = the word
/// embeddings (tied: the same tensor as the text tower's `embeddings.word_embeddings.weight`)
/// plus a bias over the vocabulary.
///
/// Parameters (named_parameters): transform.dense.{weight,bias}, transform.LayerNorm.{weight,bias},
/// bias; the decoder weight is not a parameter of the head (it is the tower's). hf_tensors() gives
/// the keys a BertForMaskedLM safetensors file holds.

#include <torch/nn/module.h>

#include <string>
#include <utility>
#include <vector>

#include "mmaux/model/config.h"
#include "mmaux/model/layers.h"

namespace mmaux::model {

class MlmHead : public torch::nn::Module {
 public:
  /// `config`: the text tower's (hidden size, vocabulary, LayerNorm epsilon); `word_embeddings`:
  /// its word table [vocab, D], kept by reference (tied). Initialised as transformers does (dense
  /// N(0, 0.02), LayerNorm 1/0, bias 0). Throws ConfigError for a RoBERTa-family tower (its head
  /// is `lm_head.*`, not supported).
  MlmHead(const TextConfig& config, at::Tensor word_embeddings);

  /// Vocabulary logits [n, V] of hidden states [n, D].
  at::Tensor forward(const at::Tensor& hidden) const;

  /// The head as a BertForMaskedLM checkpoint names it (detached): cls.predictions.transform.*
  /// and cls.predictions.bias. The tied decoder (weight = bert.embeddings.word_embeddings.weight,
  /// bias = cls.predictions.bias) is left out, as transformers leaves shared tensors out of its
  /// safetensors files and ties them again on loading.
  std::vector<std::pair<std::string, at::Tensor>> hf_tensors() const;

 private:
  torch::nn::Linear dense_{nullptr};
  std::shared_ptr<LayerNorm> norm_;
  at::Tensor bias_, words_;
};

/// Prefix of the head's parameters in checkpoints and in Hugging Face files.
inline constexpr const char* kMlmHeadPrefix = "cls.predictions.";

}  // namespace mmaux::model
