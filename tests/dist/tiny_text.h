#pragma once
// The one-layer, 16-wide BERT text tower the distributed equivalence tests build (MMBT's and the
// pretraining test's): small enough for float64 steps at 4 ranks in a second.

#include <cstdint>

#include "mmaux/model/config.h"

namespace mmaux::testing {

/// Shrinks `text` to 1 layer of width 16 (2 heads, FFN 32, 16 positions) over `vocab` tokens,
/// with `dropout` on hidden states and attention probabilities.
inline void make_tiny_text(model::TextConfig& text, int64_t vocab, double dropout) {
  text.vocab_size = vocab;
  text.hidden_size = 16;
  text.num_hidden_layers = 1;
  text.num_attention_heads = 2;
  text.intermediate_size = 32;
  text.max_position_embeddings = 16;
  text.hidden_dropout_prob = text.attention_probs_dropout_prob = dropout;
}

}  // namespace mmaux::testing
