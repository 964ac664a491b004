#pragma once
// Private: the best model of a run by train.select-metric, kept in RUN/best (model.safetensors
// and config.json as save_pretrained writes them, config.ini, best.json).

#include <optional>
#include <string>

#include "mmaux/train/results.h"
#include "mmaux/train/train_state.h"
#include "score_split.h"
#include "session.h"

namespace mmaux::train {

class BestModel {
 public:
  explicit BestModel(Session& session);

  /// The selection score of a validation result (higher is better: the loss counts negated).
  double score(const EvalResult& validation) const;

  /// True when `score` beats the best so far in `state` (or there is none yet).
  static bool improves(double score, const TrainState& state);

  /// Writes RUN/best for `state` (its best_epoch and best_value) with the validation scores
  /// `validation`: rank 0 writes RUN/.tmp-best, then swaps it in for the old RUN/best. Every rank
  /// waits for it. A failed write removes RUN/.tmp-best before it is reported (RUN/best stays as
  /// it was). Collective.
  void promote(const EvalResult& validation, const TrainState& state);

  /// Loads RUN/best's weights into the session's model. Not collective (every rank reads).
  void load_into_model() const;

  /// best.json's validation scores (nullopt without a best.json). Not collective.
  std::optional<SplitScores> validation_scores() const;

 private:
  Session& s_;
  std::string dir_;
};

/// The scores block of `r`'s overall metrics (with `loss` when given), named by the data set's
/// classes.
SplitScores split_scores(const Metrics& m, const Session& s, std::optional<double> loss = {});

}  // namespace mmaux::train
