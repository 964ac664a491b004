#include "mmaux/train/metrics.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "json_fields.h"
#include "mmaux/core/error.h"

namespace mmaux::train {

ConfusionMatrix::ConfusionMatrix(int num_classes)
    : num_classes_(num_classes), counts_(static_cast<size_t>(num_classes) * num_classes, 0) {
  MMAUX_ASSERT(num_classes > 0, "num_classes = {}", num_classes);
}

void ConfusionMatrix::add(int64_t truth, int64_t predicted) {
  MMAUX_CHECK_DATA(truth >= 0 && truth < num_classes_ && predicted >= 0 && predicted < num_classes_,
                   "label {} or prediction {} outside the {} classes", truth, predicted,
                   num_classes_);
  counts_[static_cast<size_t>(truth * num_classes_ + predicted)] += 1;
}

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
  MMAUX_ASSERT(other.num_classes_ == num_classes_);
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
}

int64_t ConfusionMatrix::total() const {
  int64_t t = 0;
  for (int64_t c : counts_) t += c;
  return t;
}

Metrics ConfusionMatrix::metrics() const {
  const int n = num_classes_;
  Metrics m;
  m.count = total();
  m.confusion.assign(n, std::vector<int64_t>(n, 0));
  std::vector<int64_t> predicted(n, 0), support(n, 0);
  int64_t correct = 0;
  for (int t = 0; t < n; ++t) {
    for (int p = 0; p < n; ++p) {
      int64_t c = counts_[static_cast<size_t>(t * n + p)];
      m.confusion[t][p] = c;
      support[t] += c;
      predicted[p] += c;
      if (t == p) correct += c;
    }
  }
  m.per_class.resize(n);
  int present = 0;
  for (int k = 0; k < n; ++k) {
    ClassScores& s = m.per_class[k];
    int64_t tp = m.confusion[k][k];
    s.support = support[k];
    s.precision = predicted[k] > 0 ? static_cast<double>(tp) / predicted[k] : 0.0;
    s.recall = support[k] > 0 ? static_cast<double>(tp) / support[k] : 0.0;
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
    if (support[k] > 0 || predicted[k] > 0) {
      ++present;
      m.macro_f1 += s.f1;
      m.macro_precision += s.precision;
      m.macro_recall += s.recall;
    }
    if (m.count > 0) {
      double w = static_cast<double>(support[k]) / m.count;
      m.weighted_f1 += w * s.f1;
      m.weighted_precision += w * s.precision;
      m.weighted_recall += w * s.recall;
    }
  }
  if (present > 0) {
    m.macro_f1 /= present;
    m.macro_precision /= present;
    m.macro_recall /= present;
  }
  m.accuracy = m.count > 0 ? static_cast<double>(correct) / m.count : 0.0;
  return m;
}

namespace {

// The scalar fields of Metrics by their JSON names.
struct ScalarField {
  const char* key;
  double Metrics::*field;
};
constexpr ScalarField kScalars[] = {{"accuracy", &Metrics::accuracy},
                                    {"macro_f1", &Metrics::macro_f1},
                                    {"macro_precision", &Metrics::macro_precision},
                                    {"macro_recall", &Metrics::macro_recall},
                                    {"weighted_f1", &Metrics::weighted_f1},
                                    {"weighted_precision", &Metrics::weighted_precision},
                                    {"weighted_recall", &Metrics::weighted_recall}};

void read_per_class(const nlohmann::json& j, Metrics& m, std::vector<std::string>& class_names,
                    const std::string& what) {
  auto it = j.find("per_class");
  if (it == j.end()) return;
  MMAUX_CHECK_DATA(it->is_object(), "{}: \"per_class\" is not an object", what);
  for (const auto& [name, c] : it->items()) {
    const std::string where = fmt::format("{} per_class.{}", what, name);
    detail::object_or_throw(c, where);
    ClassScores cs;
    detail::read_field(c, "precision", cs.precision, where);
    detail::read_field(c, "recall", cs.recall, where);
    detail::read_field(c, "f1", cs.f1, where);
    detail::read_field(c, "support", cs.support, where);
    class_names.push_back(name);
    m.per_class.push_back(cs);
  }
}

}  // namespace

nlohmann::json metrics_to_json(const Metrics& m, const std::vector<std::string>& class_names) {
  nlohmann::json j;
  j["count"] = m.count;
  for (const auto& f : kScalars) j[f.key] = m.*f.field;
  nlohmann::json per = nlohmann::json::object();
  for (size_t k = 0; k < m.per_class.size(); ++k) {
    std::string name = k < class_names.size() ? class_names[k] : std::to_string(k);
    per[name] = {{"precision", m.per_class[k].precision},
                 {"recall", m.per_class[k].recall},
                 {"f1", m.per_class[k].f1},
                 {"support", m.per_class[k].support}};
  }
  j["per_class"] = per;
  j["confusion"] = m.confusion;
  return j;
}

Metrics metrics_from_json(const nlohmann::json& j, std::vector<std::string>& class_names,
                          const std::string& what) {
  detail::object_or_throw(j, what);
  Metrics m;
  for (const auto& f : kScalars) {
    m.*f.field = std::numeric_limits<double>::quiet_NaN();
    detail::read_field(j, f.key, m.*f.field, what);
  }
  detail::read_field(j, "count", m.count, what);
  detail::read_field(j, "confusion", m.confusion, what);
  read_per_class(j, m, class_names, what);
  return m;
}

double metric_value(const Metrics& m, SelectMetric metric) {
  switch (metric) {
    case SelectMetric::kMacroF1:
      return m.macro_f1;
    case SelectMetric::kWeightedF1:
      return m.weighted_f1;
    case SelectMetric::kAccuracy:
      return m.accuracy;
    case SelectMetric::kLoss:
      break;
  }
  MMAUX_THROW(InternalError, "metric_value: {} is not a metric of the confusion matrix (a bug)",
              name_of(metric));
}

}  // namespace mmaux::train
