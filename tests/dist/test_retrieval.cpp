// retrieval_recall at 1, 2 and 4 ranks equals one process on all rows: unequal row counts (a
// rank without rows at 4), duplicated vectors (ties), blocks smaller than a rank's share.
// Under mpirun and as threads (support/collective_test.h).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "mmaux/train/retrieval.h"
#include "support/collective_test.h"

namespace mmaux::testing {
namespace {

constexpr int64_t kRows = 37;

// Every rank draws the same global rows; rank r keeps rows [offset(r), offset(r) + count(r)).
std::pair<at::Tensor, at::Tensor> global_rows(at::ScalarType dtype) {
  at::Generator gen = at::detail::createCPUGenerator(11);
  at::Tensor text = at::randn({kRows, 6}, gen, at::kDouble);
  at::Tensor image = text + 1.2 * at::randn({kRows, 6}, gen, at::kDouble);
  // Ties: rows 5..7 repeat rows 0..2 (text and image), row 9's image repeats row 8's.
  text.slice(0, 5, 8).copy_(text.slice(0, 0, 3));
  image.slice(0, 5, 8).copy_(image.slice(0, 0, 3));
  image[9].copy_(image[8]);
  return {text.to(dtype), image.to(dtype)};
}

std::vector<int64_t> counts(int w) {
  if (w == 1) return {kRows};
  if (w == 2) return {25, 12};
  return {10, 0, 20, 7};
}

void expect_same(const train::RetrievalRecall& a, const train::RetrievalRecall& b) {
  EXPECT_EQ(a.n, b.n);
  EXPECT_EQ(a.image_to_text, b.image_to_text);
  EXPECT_EQ(a.text_to_image, b.text_to_image);
}

MMAUX_COLLECTIVE_TEST(Retrieval, RanksEqualOneProcess, 60) {
  auto one = dist::make_local_communicator();
  const std::vector<int64_t> c = counts(w);
  int64_t offset = 0;
  for (int q = 0; q < r; ++q) offset += c[q];
  for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    SCOPED_TRACE(dtype == at::kFloat ? "float32" : "float64");
    auto [text, image] = global_rows(dtype);
    at::Tensor my_text = text.slice(0, offset, offset + c[r]);
    at::Tensor my_image = image.slice(0, offset, offset + c[r]);
    train::RetrievalRecall whole = train::retrieval_recall(text, image, *one);
    train::RetrievalRecall mine = train::retrieval_recall(my_text, my_image, *comm);
    train::RetrievalRecall blocked = train::retrieval_recall_blocked(my_text, my_image, *comm, 3);
    expect_same(mine, whole);
    expect_same(blocked, whole);
    EXPECT_EQ(whole.n, kRows);
    EXPECT_GT(whole.image_to_text[2], 10.0 / kRows);  // noisy pairs, above chance
  }
}

MMAUX_COLLECTIVE_TEST(Retrieval, ABadRankFailsOnEveryRank, 60) {
  // The last rank's image vectors have another dim: every rank throws, none waits.
  const int64_t dim = r == w - 1 ? 5 : 4;
  EXPECT_THROW(train::retrieval_recall(at::ones({2, 4}), at::ones({2, dim}), *comm), Error);
}

}  // namespace
}  // namespace mmaux::testing
