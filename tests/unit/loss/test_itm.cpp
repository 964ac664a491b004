#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "mmaux/core/error.h"
#include "mmaux/loss/itm.h"

namespace mmaux::loss {
namespace {

TEST(ItmRandom, SwapsAboutHalfTheTextsForOthersOfTheLocalBatch) {
  int64_t swapped = 0, total = 0;
  for (int64_t step = 0; step < 200; ++step) {
    ItmPlan p = plan_itm_random(8, 16, {42, step});
    EXPECT_TRUE(at::equal(p.image_rows, at::arange(16, 24, at::kLong)));  // never swapped
    for (int64_t k = 0; k < 8; ++k) {
      int64_t t = p.text_rows[k].item<int64_t>();
      EXPECT_GE(t, 16);
      EXPECT_LT(t, 24);  // another text of the same local batch
      bool matched = p.labels[k].item<int64_t>() == 1;
      EXPECT_EQ(matched, t == 16 + k);  // label 1 = matched; a swap is never to itself
      swapped += matched ? 0 : 1;
      ++total;
    }
    EXPECT_EQ(p.degenerate.item<int64_t>(), 0);
  }
  double rate = static_cast<double>(swapped) / total;
  EXPECT_NEAR(rate, 0.5, 0.05) << swapped << " of " << total;
}

TEST(ItmRandom, IsAPureFunctionOfSeedStepAndRow) {
  ItmPlan a = plan_itm_random(8, 0, {1, 5});
  ItmPlan b = plan_itm_random(8, 0, {1, 5});
  ItmPlan c = plan_itm_random(8, 0, {1, 6});
  EXPECT_TRUE(at::equal(a.text_rows, b.text_rows));
  EXPECT_FALSE(at::equal(a.text_rows, c.text_rows));
}

TEST(ItmRandom, BatchOfOneStaysMatchedAndIsCounted) {
  ItmPlan p = plan_itm_random(1, 3, {1, 0});
  EXPECT_EQ(p.text_rows[0].item<int64_t>(), 3);
  EXPECT_EQ(p.labels[0].item<int64_t>(), 1);
  EXPECT_EQ(p.degenerate.item<int64_t>(), 1);
}

RowKeys distinct_keys(int64_t n) {
  return {at::arange(n, at::kLong) * 7 + 1, at::arange(n, at::kLong) * 11 + 2, at::Tensor()};
}

TEST(ItmHard, LayoutLabelsAndMasking) {
  auto comm = dist::make_local_communicator();
  at::manual_seed(4);
  at::Tensor sim = at::randn({6, 6}, at::kDouble) * 3;
  RowKeys keys = distinct_keys(6);
  keys.text[4] = keys.text[0];  // rows 0 and 4: the same text
  for (int64_t step = 0; step < 50; ++step) {
    ItmPlan p = plan_itm_hard(sim, sim.t().contiguous(), 0, keys, {9, step}, 1e-4, *comm);
    ASSERT_EQ(p.labels.size(0), 18);
    EXPECT_EQ(p.labels.narrow(0, 0, 6).sum().item<int64_t>(), 6);
    EXPECT_EQ(p.labels.narrow(0, 6, 12).sum().item<int64_t>(), 0);
    EXPECT_TRUE(at::equal(p.text_rows.narrow(0, 0, 6), at::arange(6, at::kLong)));
    EXPECT_TRUE(at::equal(p.image_rows.narrow(0, 6, 6), at::arange(6, at::kLong)));
    EXPECT_TRUE(at::equal(p.text_rows.narrow(0, 12, 6), at::arange(6, at::kLong)));
    for (int64_t k = 0; k < 6; ++k) {
      int64_t neg_text = p.text_rows[6 + k].item<int64_t>();
      int64_t neg_image = p.image_rows[12 + k].item<int64_t>();
      EXPECT_NE(neg_text, k);
      EXPECT_NE(neg_image, k);
      if (k == 0 || k == 4) {
        EXPECT_NE(neg_text, 4 - k) << "the duplicate text was chosen as a negative";
        EXPECT_NE(neg_image, 4 - k) << "the duplicate text's post was chosen";
      }
    }
    EXPECT_EQ(p.degenerate.item<int64_t>(), 0);
  }
}

TEST(ItmHard, APostThatAppearsTwiceIsNeverItsOwnNegative) {
  auto comm = dist::make_local_communicator();
  RowKeys keys = distinct_keys(5);
  keys.post = at::tensor({10, 11, 12, 11, 14}, at::kLong);  // rows 1 and 3: the same post
  at::Tensor sim = at::zeros({5, 5}, at::kDouble);
  sim[1][3] = 50.0;  // without the mask, row 1 would pick row 3 almost surely
  sim[3][1] = 50.0;
  for (int64_t step = 0; step < 30; ++step) {
    ItmPlan p = plan_itm_hard(sim, sim, 0, keys, {2, step}, 1e-4, *comm);
    EXPECT_NE(p.text_rows[5 + 1].item<int64_t>(), 3);
    EXPECT_NE(p.text_rows[5 + 3].item<int64_t>(), 1);
    EXPECT_NE(p.image_rows[10 + 1].item<int64_t>(), 3);
  }
  keys.post = at::Tensor();
  ItmPlan unmasked = plan_itm_hard(sim, sim, 0, keys, {2, 0}, 1e-4, *comm);
  EXPECT_EQ(unmasked.text_rows[5 + 1].item<int64_t>(), 3);  // the mask made the difference
}

TEST(ItmHard, DrawsFollowTheSoftmaxOfTheSimilarities) {
  auto comm = dist::make_local_communicator();
  // Row 0 over candidates 1..3 with logits ln 1, ln 2, ln 5 (+ a tiny eps): p = 1/8, 2/8, 5/8.
  at::Tensor sim = at::zeros({4, 4}, at::kDouble);
  sim[0][1] = 0.0;
  sim[0][2] = std::log(2.0);
  sim[0][3] = std::log(5.0);
  std::vector<int64_t> counts(4, 0);
  const int steps = 4000;
  for (int64_t step = 0; step < steps; ++step) {
    ItmPlan p = plan_itm_hard(sim, sim, 0, distinct_keys(4), {3, step}, 1e-12, *comm);
    counts[p.text_rows[4].item<int64_t>()]++;
  }
  EXPECT_EQ(counts[0], 0);
  EXPECT_NEAR(counts[1] / double(steps), 1.0 / 8, 0.02);
  EXPECT_NEAR(counts[2] / double(steps), 2.0 / 8, 0.03);
  EXPECT_NEAR(counts[3] / double(steps), 5.0 / 8, 0.03);
}

TEST(ItmHard, DegenerateRowsFallBackAndAreCounted) {
  auto comm = dist::make_local_communicator();
  // A batch of one: nothing but the row itself; it pairs with itself, labelled matched.
  ItmPlan one = plan_itm_hard(at::zeros({1, 1}, at::kDouble), at::zeros({1, 1}, at::kDouble), 0,
                              distinct_keys(1), {1, 0}, 1e-4, *comm);
  EXPECT_EQ(one.degenerate.item<int64_t>(), 2);
  EXPECT_TRUE(at::equal(one.labels, at::tensor({1, 1, 1}, at::kLong)));
  // Every row a duplicate of every other: uniform over the other rows, counted.
  RowKeys same{at::zeros({3}, at::kLong), at::arange(3, at::kLong), at::Tensor()};
  at::Tensor sim = at::randn({3, 3}, at::kDouble);
  ItmPlan dup = plan_itm_hard(sim, sim, 0, same, {1, 0}, 1e-4, *comm);
  EXPECT_EQ(dup.degenerate.item<int64_t>(), 6);
  for (int64_t k = 3; k < 9; ++k) {
    EXPECT_NE(dup.text_rows[k].item<int64_t>(), dup.image_rows[k].item<int64_t>());
  }
  // Non-finite similarities: uniform over the finite, unmasked candidates.
  at::Tensor bad = at::zeros({3, 3}, at::kDouble);
  bad[0][1] = std::numeric_limits<double>::quiet_NaN();
  bad[1][0] = std::numeric_limits<double>::infinity();
  ItmPlan nan =
      plan_itm_hard(bad, at::zeros({3, 3}, at::kDouble), 0, distinct_keys(3), {1, 0}, 1e-4, *comm);
  EXPECT_EQ(nan.degenerate.item<int64_t>(), 2);
  EXPECT_EQ(nan.text_rows[3].item<int64_t>(), 2);  // row 0: 1 is NaN, 0 is itself
  EXPECT_EQ(nan.text_rows[4].item<int64_t>(), 2);  // row 1: 0 is inf, 1 is itself
}

TEST(ItmHard, SameKeysAsRowsOfOtherShapes) {
  // Texts padded to different lengths have the same key; different tokens do not.
  at::Tensor a = at::tensor({101, 7, 8, 102, 0, 0}, at::kLong).view({1, 6});
  at::Tensor am = at::tensor({1, 1, 1, 1, 0, 0}, at::kLong).view({1, 6});
  at::Tensor b = at::tensor({101, 7, 8, 102}, at::kLong).view({1, 4});
  at::Tensor c = at::tensor({101, 7, 9, 102}, at::kLong).view({1, 4});
  EXPECT_EQ(text_keys(a, am)[0].item<int64_t>(), text_keys(b, at::ones_like(b))[0].item<int64_t>());
  EXPECT_NE(text_keys(b, at::Tensor())[0].item<int64_t>(),
            text_keys(c, at::Tensor())[0].item<int64_t>());
  // Images: the valid top-left region decides.
  at::manual_seed(5);
  at::Tensor img = at::randn({1, 3, 4, 5});
  at::Tensor padded = at::zeros({1, 3, 6, 8});
  padded.narrow(2, 0, 4).narrow(3, 0, 5).copy_(img);
  at::Tensor mask = at::zeros({1, 6, 8}, at::kLong);
  mask.narrow(1, 0, 4).narrow(2, 0, 5).fill_(1);
  EXPECT_EQ(image_keys(img, at::Tensor())[0].item<int64_t>(),
            image_keys(padded, mask)[0].item<int64_t>());
  at::Tensor other = img.clone();
  other[0][1][2][3] += 1e-3;
  EXPECT_NE(image_keys(img, at::Tensor())[0].item<int64_t>(),
            image_keys(other, at::Tensor())[0].item<int64_t>());
  // row_keys: equal rows, equal keys.
  at::Tensor rows = at::stack({img[0], other[0], img[0]});
  at::Tensor k = row_keys(rows);
  EXPECT_EQ(k[0].item<int64_t>(), k[2].item<int64_t>());
  EXPECT_NE(k[0].item<int64_t>(), k[1].item<int64_t>());
}

TEST(Itm, LossIsTheMeanCrossEntropyOnOneRank) {
  auto comm = dist::make_local_communicator();
  at::Tensor logits = at::tensor({0.2, 1.0, -0.5, 0.3, 2.0, 0.0}, at::kDouble).view({3, 2});
  at::Tensor labels = at::tensor({1, 0, 0}, at::kLong);
  at::Tensor ref = at::nll_loss(at::log_softmax(logits, 1), labels);
  EXPECT_NEAR(itm_loss(logits, labels, *comm).item<double>(), ref.item<double>(), 1e-12);
}

}  // namespace
}  // namespace mmaux::loss
