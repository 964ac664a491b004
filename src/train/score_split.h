#pragma once
// Private: scoring a split with the session's model (validation at epoch ends, the test split at
// the end of training, `mmaux eval`).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mmaux/train/metrics.h"
#include "mmaux/train/retrieval.h"
#include "session.h"

namespace mmaux::train {

struct EvalResult {
  Metrics metrics;
  /// The split's CE with the run's class weights and loss.ce-norm (loss::cross_entropy_sums
  /// summed over every row of the split, then divided).
  double loss = 0;
  std::vector<std::pair<std::string, Metrics>> by_relation;
  /// Image→text and text→image recall of the split (when score_split was asked for it).
  std::optional<RetrievalRecall> retrieval;
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
/// rows to `predictions` when given. With `retrieval`, the same pass also collects the ITC
/// vectors and fills EvalResult::retrieval. Collective.
EvalResult score_split(Session& s, const std::string& split, std::vector<Prediction>* predictions,
                       bool retrieval = false);

/// Runs `visit` on every non-empty batch of this rank's share of `split` (the evaluation
/// loader), `model` in eval mode without gradient, its mode restored after. Not collective by
/// itself (the loader's reads are local).
void for_each_eval_batch(model::MultimodalModel& model, const data::Manifest& manifest,
                         const DataOptions& data, const std::string& split, int rank, int world,
                         const std::function<void(const data::Batch&)>& visit);

/// ITC vectors of a split's batches, this rank's rows in loader order.
struct ItcRows {
  std::vector<at::Tensor> text, image;
  void add(const model::Encoded& e);
  /// retrieval_recall over every rank's rows. Collective.
  RetrievalRecall recall(dist::Communicator& comm) const;
};

}  // namespace mmaux::train
