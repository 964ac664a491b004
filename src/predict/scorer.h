#pragma once
// Private: raw posts → model inputs (the training data's preprocessing) → probabilities.

#include <ATen/ATen.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "mmaux/data/input_spec.h"
#include "mmaux/model/multimodal.h"
#include "predict/posts.h"

namespace mmaux::predict {

/// A post after the text and image steps; `reason` says why it cannot be scored.
struct PreparedPost {
  InputPost input;
  std::string reason;  ///< "" = ready
  std::vector<int32_t> ids;
  int32_t length = 0;
  std::vector<uint8_t> pixels;  ///< [3, height, width]
  int height = 0, width = 0;
};

/// What the model says about one post.
struct Scores {
  std::vector<double> probs;  ///< per class
  int64_t predicted = 0;
  double itm_match = 0;   ///< softmax of the ITM head, index 1 (matched)
  double p_no_image = 0;  ///< probability of `predicted` with a neutral image (explain)
  double p_no_text = 0;   ///< probability of `predicted` with empty text (explain)
};

class Scorer {
 public:
  /// Reads the checkpoint's predict_config.json and tokenizer/, builds the model from `model`
  /// (eval mode). `limits` are the image limits to apply.
  Scorer(const std::string& checkpoint, const ModelOptions& model, const data::ImageLimits& limits,
         std::string image_root);

  /// Text and image steps of one row (thread-safe).
  PreparedPost prepare(InputPost post) const;
  /// Scores ready posts in one forward pass (two more with `explain`).
  std::vector<Scores> score(const std::vector<const PreparedPost*>& posts, bool explain);

  const data::InputSpec& spec() const { return spec_; }

 private:
  model::ModelInput inputs(const std::vector<const PreparedPost*>& posts) const;
  at::Tensor class_probs(const model::ModelInput& input);

  data::InputSpec spec_;
  std::unique_ptr<data::Tokenizer> tokenizer_;
  std::shared_ptr<model::MultimodalModel> model_;
  data::ImageLimits limits_;
  std::string image_root_;
  data::PixelTable lut_{};
  data::Encoding empty_text_;
};

}  // namespace mmaux::predict
