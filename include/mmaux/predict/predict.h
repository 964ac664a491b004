#pragma once
/// `mmaux predict`: scores raw posts (csv or JSON Lines) with a trained model directory, exactly
/// as its training data was preprocessed (data/input_spec.h), and `mmaux export`.
///
/// Output: one row per input row, in input order: post_id, status ("ok" or "error"), reason
/// (why a row was not scored: "missing image: ...", "empty text: ...", ...), the predicted class,
/// every class probability, the ITM match probability (softmax of the ITM head over the post's
/// own text and image, index 1 = matched), and with explain the probability of the predicted
/// class with a neutral image (every normalised pixel 0, the preset's mean grey, at the post's
/// image size) and with empty text (the tokenizer's frame tokens only), their drops and which
/// modality they name (README "Predicting").
///
/// Ranks: every rank reads the input file; rows are taken in rounds of ranks × chunk rows, each
/// rank scoring a contiguous share of each round; rank 0 gathers the formatted rows of every
/// round and writes them in input order. The output does not depend on the number of ranks.
/// Standard input is read by one rank only (several ranks need a file).

#include <cstdint>
#include <memory>
#include <string>

#include "mmaux/config/model_options.h"
#include "mmaux/config/predict_options.h"
#include "mmaux/dist/communicator.h"

namespace mmaux::predict {

struct PredictSummary {
  int64_t rows = 0;           ///< input rows
  int64_t scored = 0;         ///< rows with status ok
  int64_t failed = 0;         ///< rows with status error
  double seconds = 0;         ///< wall time of the scoring loop (rank 0)
  double decode_seconds = 0;  ///< thread time spent decoding texts and images (all ranks)
  double model_seconds = 0;   ///< wall time in forward passes (all ranks)
  double wait_seconds = 0;    ///< time the scoring thread waited for decoded posts (all ranks)
};

/// Scores options.input with the model directory options.checkpoint, built with `model`
/// (model.dir must be the checkpoint). Rank 0 writes the output. Every rank returns the same
/// summary. Collective over `comm` (a CPU communicator).
PredictSummary run_predict(const PredictOptions& options, const ModelOptions& model,
                           dist::Communicator& comm);

/// Writes options.out: the model as save_pretrained wrote it, the dual-stream towers as Hugging
/// Face BertModel/RobertaModel (text/) and ViTModel (image/) directories with the tokenizer
/// files in text/ (ViLT: the top directory is a ViltModel directory with the tokenizer files),
/// and predict_config.json. Not collective.
void run_export(const ExportOptions& options, const ModelOptions& model);

}  // namespace mmaux::predict
