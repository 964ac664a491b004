// The collective losses at 1, 2 and 4 ranks equal one process on the global batch: the mean
// over ranks of CE, ITC and ITM, the gradients of every rank's rows, and the hard ITM draws.
// Under mpirun and as threads (support/collective_test.h).
#include <gtest/gtest.h>

#include "dist/loss_cases.h"
#include "support/collective_test.h"

namespace mmaux::testing {
namespace {

MMAUX_COLLECTIVE_TEST(CollectiveLosses, EqualOneProcessOnTheGlobalBatch, 60) {
  auto one = dist::make_local_communicator();
  for (bool unequal : {false, true}) {
    SCOPED_TRACE(unequal ? "unequal rows" : "equal rows");
    std::vector<LossOutput> mine = compute_losses(*comm, unequal);
    std::vector<LossOutput> whole = compute_losses(*one, unequal);
    const std::vector<int64_t> counts = loss_row_counts(w, unequal);
    int64_t offset = 0;
    for (int q = 0; q < r; ++q) offset += counts[q];
    EXPECT_EQ(compare_outputs(mine, reference_slice(whole, offset, counts[r]), 1e-10), "");
  }
}

}  // namespace
}  // namespace mmaux::testing
