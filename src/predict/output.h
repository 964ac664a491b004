#pragma once
// Private: predict's output rows, csv or JSON Lines.

#include <string>
#include <vector>

#include "predict/scorer.h"

namespace mmaux::predict {

struct OutputFormat {
  std::string kind;  ///< "csv" or "jsonl"
  std::vector<std::string> classes;
  bool explain = false;
  double threshold = 0.1;  ///< a drop of at least this much names the modality
};

/// "text", "image", "both" or "neither" from the drops of the predicted class's probability when
/// the text and when the image are removed.
std::string decided_by(double drop_text, double drop_image, double threshold);

/// The csv header line ("" for JSON Lines).
std::string header(const OutputFormat& f);
/// One output line for a scored post.
std::string scored_row(const OutputFormat& f, const PreparedPost& post, const Scores& s);
/// One output line for a post that could not be scored.
std::string failed_row(const OutputFormat& f, const PreparedPost& post);

}  // namespace mmaux::predict
