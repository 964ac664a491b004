#pragma once
// Private: scoring a split with the session's model (validation at epoch ends, the test split at
// the end of training, `mmaux eval`).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mmaux/train/metrics.h"
#include "session.h"

namespace mmaux::train {

struct EvalResult {
  Metrics metrics;
  /// The split's CE with the run's class weights and loss.ce-norm (loss::cross_entropy_sums
  /// summed over every row of the split, then divided).
  double loss = 0;
  std::vector<std::pair<std::string, Metrics>> by_relation;
};

/// One row of predictions.
struct Prediction {
  int64_t sample_index = 0;
  std::string post_id;
  int64_t label = 0;
  int64_t predicted = 0;
  int64_t relation = -1;
  std::vector<float> probs;
};

/// Scores `split`: every rank scores its share of each batch (model in eval mode, no gradient,
/// back in train mode after); counts and loss sums are added over ranks. Appends this rank's
/// rows to `predictions` when given. Collective.
EvalResult score_split(Session& s, const std::string& split, std::vector<Prediction>* predictions);

}  // namespace mmaux::train
