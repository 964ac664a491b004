#include "mmaux/model/mlm_head.h"

#include <ATen/ATen.h>

#include "mmaux/core/error.h"

namespace mmaux::model {

MlmHead::MlmHead(const TextConfig& config, at::Tensor word_embeddings)
    : words_(std::move(word_embeddings)) {
  MMAUX_CHECK_CONFIG(!config.roberta_positions(),
                     "masked-language modelling supports BERT-family text towers (model_type "
                     "bert, head cls.predictions.*); this tower is '{}' (its head would be "
                     "lm_head.*): use a BERT text model",
                     config.model_type);
  MMAUX_CHECK(words_.dim() == 2 && words_.size(0) == config.vocab_size &&
                  words_.size(1) == config.hidden_size,
              "MlmHead: word embeddings [{}, {}] expected, got {} dimensions", config.vocab_size,
              config.hidden_size, words_.dim());
  auto transform = register_module("transform", std::make_shared<torch::nn::Module>());
  dense_ = transform->register_module("dense", make_linear(config.hidden_size, config.hidden_size));
  norm_ = transform->register_module(
      "LayerNorm", std::make_shared<LayerNorm>(config.hidden_size, config.layer_norm_eps));
  bias_ = register_parameter("bias", at::zeros({config.vocab_size}));
}

at::Tensor MlmHead::forward(const at::Tensor& hidden) const {
  at::Tensor h = norm_->forward(at::gelu(linear(hidden, dense_)));
  return linear(h, words_, bias_);
}

std::vector<std::pair<std::string, at::Tensor>> MlmHead::hf_tensors() const {
  const std::string p = kMlmHeadPrefix;
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : named_parameters()) {
    out.emplace_back(p + item.key(), item.value().detach());
  }
  return out;
}

}  // namespace mmaux::model
