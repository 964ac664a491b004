#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "mmaux/core/error.h"
#include "mmaux/train/metrics.h"

namespace mmaux::train {
namespace {

// Hand-computed example, 3 classes, 10 samples. Confusion [true][pred]:
//   t0: 3 1 0   (support 4)
//   t1: 1 2 1   (support 4)
//   t2: 0 0 2   (support 2)
// predicted totals: 4 3 3; correct 7 -> accuracy 0.7
// P = 3/4, 2/3, 2/3; R = 3/4, 2/4, 2/2
// F1_0 = 0.75; F1_1 = 2*(2/3)(1/2)/(2/3+1/2) = 4/7; F1_2 = 2*(2/3)(1)/(5/3) = 0.8
ConfusionMatrix example() {
  ConfusionMatrix cm(3);
  int rows[3][3] = {{3, 1, 0}, {1, 2, 1}, {0, 0, 2}};
  for (int t = 0; t < 3; ++t)
    for (int p = 0; p < 3; ++p)
      for (int k = 0; k < rows[t][p]; ++k) cm.add(t, p);
  return cm;
}

TEST(Metrics, HandComputedThreeClasses) {
  Metrics m = example().metrics();
  EXPECT_EQ(m.count, 10);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.7);
  EXPECT_DOUBLE_EQ(m.per_class[0].f1, 0.75);
  EXPECT_NEAR(m.per_class[1].f1, 4.0 / 7.0, 1e-15);
  EXPECT_NEAR(m.per_class[2].f1, 0.8, 1e-15);
  EXPECT_NEAR(m.macro_f1, (0.75 + 4.0 / 7.0 + 0.8) / 3, 1e-15);
  EXPECT_NEAR(m.weighted_f1, 0.4 * 0.75 + 0.4 * 4.0 / 7.0 + 0.2 * 0.8, 1e-15);
  EXPECT_NEAR(m.macro_precision, (0.75 + 2.0 / 3 + 2.0 / 3) / 3, 1e-15);
  EXPECT_NEAR(m.macro_recall, (0.75 + 0.5 + 1.0) / 3, 1e-15);
  EXPECT_NEAR(m.weighted_recall, 0.7, 1e-15);  // weighted recall == accuracy
  EXPECT_EQ(m.confusion[1][2], 1);
  EXPECT_EQ(m.per_class[2].support, 2);
}

TEST(Metrics, AbsentClassIsLeftOutOfMacroAverage) {
  ConfusionMatrix cm(3);  // class 2 never true nor predicted
  cm.add(0, 0);
  cm.add(1, 1);
  cm.add(1, 0);
  Metrics m = cm.metrics();
  // F1_0 = 2*(1/2)(1)/(3/2) = 2/3, F1_1 = 2*(1)(1/2)/(3/2) = 2/3
  EXPECT_NEAR(m.macro_f1, 2.0 / 3.0, 1e-15);
}

TEST(Metrics, ClassNeverPredictedHasZeroPrecision) {
  ConfusionMatrix cm(2);
  cm.add(0, 0);
  cm.add(1, 0);
  Metrics m = cm.metrics();
  EXPECT_EQ(m.per_class[1].precision, 0.0);
  EXPECT_EQ(m.per_class[1].f1, 0.0);
  EXPECT_NEAR(m.macro_f1, (2.0 / 3.0 + 0.0) / 2, 1e-15);
}

TEST(Metrics, MergeAddsCounts) {
  ConfusionMatrix a = example();
  a.merge(example());
  Metrics m = a.metrics();
  EXPECT_EQ(m.count, 20);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.7);
}

TEST(Metrics, OutOfRangeLabelIsAnError) {
  ConfusionMatrix cm(2);
  EXPECT_THROW(cm.add(2, 0), DataError);
  EXPECT_THROW(cm.add(0, -1), DataError);
}

TEST(Metrics, Json) {
  auto j = metrics_to_json(example().metrics(), {"a", "b", "c"});
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), 0.7);
  EXPECT_EQ(j["per_class"]["c"]["support"].get<int>(), 2);
  EXPECT_EQ(j["confusion"][0][1].get<int>(), 1);
  EXPECT_DOUBLE_EQ(metric_value(example().metrics(), SelectMetric::kAccuracy), 0.7);
  EXPECT_THROW(metric_value(example().metrics(), SelectMetric::kLoss), InternalError);
}

}  // namespace
}  // namespace mmaux::train
