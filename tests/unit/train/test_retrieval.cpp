// retrieval_recall on hand-made vectors whose ranks are known: the tie rule, K > N, a collapsed
// model, invariance to the vectors' norms, and the errors. One process (the local communicator);
// tests/dist/test_retrieval.cpp checks W ranks against one process.
#include "mmaux/train/retrieval.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "mmaux/core/error.h"

namespace mmaux::train {
namespace {

// Image i's similarity to text j is M[i][j] / ||M_i|| when text j is the one-hot e_j, so row i of
// M orders image i's candidates. Row i: the other texts get 100, 99, ..., in column order; its
// own text gets `own[i]`.
at::Tensor score_rows(const std::vector<double>& own) {
  const auto n = static_cast<int64_t>(own.size());
  at::Tensor m = at::zeros({n, n}, at::kDouble);
  for (int64_t i = 0; i < n; ++i) {
    double v = 100;
    for (int64_t j = 0; j < n; ++j) m[i][j] = j == i ? own[static_cast<size_t>(i)] : v--;
  }
  return m;
}

TEST(Retrieval, RanksAndTiesAsDocumented) {
  // Own scores and the resulting ranks (others scoring >= own; 100, 99, ... are the others):
  //   100.5 → 0, 100.5 → 0, 99.5 → 1, 96.5 → 4, 95.5 → 5, 91.5 → 9, 90.5 → 10, 89.5 → 11 (last),
  //   98 (ties with 98: 100, 99 above + the tie) → 3, 96 (100..97 above + the tie) → 5,
  //   100 (ties with the best) → 1, 91 (100..92 above + the tie) → 10.
  const std::vector<double> own = {100.5, 100.5, 99.5, 96.5, 95.5, 91.5,
                                   90.5,  89.5,  98,   96,   100,  91};
  at::Tensor m = score_rows(own);
  at::Tensor eye = at::eye(12, at::kDouble);
  auto comm = dist::make_local_communicator();
  // Ranks 0 0 1 4 5 9 10 11 3 5 1 10: R@1 2/12, R@5 (rank < 5) 6/12, R@10 (rank < 10) 9/12.
  // (Ties counted for the query would give 3/12, 7/12, 10/12.)
  RetrievalRecall r = retrieval_recall(/*text=*/eye, /*image=*/m, *comm);
  EXPECT_EQ(r.n, 12);
  EXPECT_DOUBLE_EQ(r.image_to_text[0], 2.0 / 12);
  EXPECT_DOUBLE_EQ(r.image_to_text[1], 6.0 / 12);
  EXPECT_DOUBLE_EQ(r.image_to_text[2], 9.0 / 12);
  // Swapping the arguments swaps the directions exactly.
  RetrievalRecall swapped = retrieval_recall(/*text=*/m, /*image=*/eye, *comm);
  EXPECT_EQ(swapped.text_to_image, r.image_to_text);
  EXPECT_EQ(swapped.image_to_text, r.text_to_image);
}

TEST(Retrieval, NormsDoNotMatterAndFloat32Agrees) {
  at::manual_seed(3);
  at::Tensor t = at::randn({40, 8});
  at::Tensor i = t + 0.8 * at::randn({40, 8});
  auto comm = dist::make_local_communicator();
  RetrievalRecall a = retrieval_recall(t, i, *comm);
  RetrievalRecall b = retrieval_recall(t * at::rand({40, 1}) * 7 + 0.01, i * 0.001, *comm);
  EXPECT_EQ(a.image_to_text, b.image_to_text);
  EXPECT_EQ(a.text_to_image, b.text_to_image);
  // Noisy pairs: above chance (K / N) but not perfect, in both directions.
  EXPECT_GT(a.image_to_text[0], 5.0 / 40);
  EXPECT_LT(a.image_to_text[0], 1.0);
  EXPECT_GT(a.text_to_image[0], 5.0 / 40);
  EXPECT_LE(a.image_to_text[0], a.image_to_text[1]);
  EXPECT_LE(a.image_to_text[1], a.image_to_text[2]);
  // The blocks do not change the figures.
  RetrievalRecall c = retrieval_recall_blocked(t, i, *comm, 7);
  EXPECT_EQ(a.image_to_text, c.image_to_text);
  EXPECT_EQ(a.text_to_image, c.text_to_image);
}

TEST(Retrieval, KBeyondNIsAlwaysAHit) {
  // The worst possible ranking of 3 rows: every query's match is last (rank 2).
  at::Tensor t = at::tensor({1.0, 0.0, 0.0, 1.0, -1.0, -1.0}, at::kDouble).view({3, 2});
  at::Tensor i = -t;
  auto comm = dist::make_local_communicator();
  RetrievalRecall r = retrieval_recall(t, i, *comm);
  EXPECT_EQ(r.image_to_text, (std::array<double, 3>{0.0, 1.0, 1.0}));
  EXPECT_EQ(r.text_to_image, (std::array<double, 3>{0.0, 1.0, 1.0}));
}

TEST(Retrieval, CollapsedVectorsScoreZeroBelowN) {
  // All vectors equal: every candidate ties with the match, and ties count against the query.
  at::Tensor same = at::ones({20, 4});
  auto comm = dist::make_local_communicator();
  RetrievalRecall r = retrieval_recall(same, same, *comm);
  EXPECT_EQ(r.image_to_text, (std::array<double, 3>{0.0, 0.0, 0.0}));
  EXPECT_EQ(r.text_to_image, (std::array<double, 3>{0.0, 0.0, 0.0}));
}

TEST(Retrieval, EmptyInputAndJson) {
  auto comm = dist::make_local_communicator();
  RetrievalRecall r = retrieval_recall(at::zeros({0}), at::zeros({0, 5}), *comm);
  EXPECT_EQ(r.n, 0);
  r.n = 4;
  r.image_to_text = {0.25, 0.5, 1.0};
  r.text_to_image = {0.0, 0.75, 1.0};
  nlohmann::json j = retrieval_json(r);
  EXPECT_EQ(j.dump(), R"({"image_to_text":{"r1":0.25,"r10":1.0,"r5":0.5},"n":4,)"
                      R"("text_to_image":{"r1":0.0,"r10":1.0,"r5":0.75}})");
  EXPECT_NE(retrieval_summary(r).find("0.250/0.500/1.000"), std::string::npos);
}

TEST(Retrieval, BadInputsAreErrors) {
  auto comm = dist::make_local_communicator();
  EXPECT_THROW(retrieval_recall(at::ones({3, 4}), at::ones({2, 4}), *comm), Error);
  EXPECT_THROW(retrieval_recall(at::ones({3, 4}), at::ones({3, 5}), *comm), Error);
  EXPECT_THROW(retrieval_recall(at::ones({3, 4, 1}), at::ones({3, 4, 1}), *comm), Error);
  EXPECT_THROW(retrieval_recall(at::ones({3, 4}, at::kLong), at::ones({3, 4}), *comm), Error);
  at::Tensor nan = at::ones({3, 4});
  nan[1][2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(retrieval_recall(at::ones({3, 4}), nan, *comm), Error);
  EXPECT_THROW(retrieval_recall_blocked(at::ones({3, 4}), at::ones({3, 4}), *comm, 0), Error);
}

}  // namespace
}  // namespace mmaux::train
