#pragma once
/// Classification metrics: confusion matrix, per-class precision/recall/F1, macro and weighted
/// averages, accuracy. Conventions follow scikit-learn's defaults (the paper's code uses them):
/// a class with no predicted (or no true) samples has precision (recall) 0; averages run over the
/// classes present in the true or the predicted labels; weighted averages weigh by true support.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "mmaux/config/train_options.h"

namespace mmaux::train {

struct ClassScores {
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  int64_t support = 0;  ///< true samples of the class
};

struct Metrics {
  int64_t count = 0;
  double accuracy = 0;
  double macro_f1 = 0;
  double macro_precision = 0;
  double macro_recall = 0;
  double weighted_f1 = 0;
  double weighted_precision = 0;
  double weighted_recall = 0;
  std::vector<ClassScores> per_class;
  std::vector<std::vector<int64_t>> confusion;  ///< [true class][predicted class]
};

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int num_classes);
  /// Adds one prediction; throws when a class index is out of range.
  void add(int64_t truth, int64_t predicted);
  /// Adds the counts of another matrix of the same size.
  void merge(const ConfusionMatrix& other);
  int num_classes() const { return num_classes_; }
  int64_t total() const;
  const std::vector<int64_t>& counts() const { return counts_; }  ///< row-major [true][pred]
  std::vector<int64_t>& counts() { return counts_; }
  Metrics metrics() const;

 private:
  int num_classes_;
  std::vector<int64_t> counts_;
};

/// {"accuracy":..,"macro_f1":..,..,"per_class":{name:{precision,recall,f1,support}},
///  "confusion":[[..]]}
nlohmann::json metrics_to_json(const Metrics& m, const std::vector<std::string>& class_names);

/// Inverse of metrics_to_json for a record read back: scalars the record lacks are NaN (count 0);
/// per_class comes in the record's (alphabetical) order, with its names appended to
/// `class_names`; the confusion matrix keeps the record's class-index order. Throws DataError
/// naming `what` when `j` is not an object or a field has the wrong type.
Metrics metrics_from_json(const nlohmann::json& j, std::vector<std::string>& class_names,
                          const std::string& what);

/// The scalar metric kMacroF1, kWeightedF1 or kAccuracy. kLoss is no metric of the confusion
/// matrix: InternalError.
double metric_value(const Metrics& m, SelectMetric metric);

}  // namespace mmaux::train
