// Communicators and all_gather_with_grad against closed forms, at any world size: the MPI
// communicator under mpirun, and the thread communicator at 1, 2 and 4 threads (the same source,
// see support/collective_test.h). Rank r contributes values built from r, so every expected
// result is a formula in r and W.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "mmaux/config/dist_options.h"
#include "mmaux/core/error.h"
#include "mmaux/dist/all_gather.h"
#include "mmaux/dist/communicator.h"
#include "support/collective_test.h"

namespace mmaux::dist {
namespace {

const at::ScalarType kDtypes[] = {at::kFloat, at::kDouble, at::kBFloat16, at::kLong};

/// [rows, 3] with element (i, j) = 100 r + 10 i + j, in `dtype`.
at::Tensor pattern(int r, int64_t rows, at::ScalarType dtype) {
  at::Tensor i = at::arange(rows, at::kDouble).unsqueeze(1);
  at::Tensor j = at::arange(3, at::kDouble).unsqueeze(0);
  return (100.0 * r + 10.0 * i + j).to(dtype);
}

#if !MMAUX_COLLECTIVE_THREADS
TEST(Comm, FactoryPicksMpiUnderMpirun) {
  DistOptions o;
  EXPECT_EQ(make_communicator(o, false, testing::mpi_topology())->backend(), "mpi");
}
#endif

MMAUX_COLLECTIVE_TEST(Comm, AllReduceSumAvgMaxMin, 60) {
  for (const at::ScalarType dt : kDtypes) {
    SCOPED_TRACE(c10::toString(dt));
    at::Tensor base = at::full({5}, static_cast<double>(r + 1), at::kDouble);
    const double sum = w * (w + 1) / 2.0;
    struct Case {
      ReduceOp op;
      double expected;
    } cases[] = {{ReduceOp::kSum, sum},
                 {ReduceOp::kAvg, dt == at::kLong ? std::trunc(sum / w) : sum / w},
                 {ReduceOp::kMax, static_cast<double>(w)},
                 {ReduceOp::kMin, 1.0}};
    for (const auto& c : cases) {
      at::Tensor t = base.to(dt).clone();
      comm->all_reduce(t, c.op);
      EXPECT_EQ(t.scalar_type(), dt);
      EXPECT_TRUE(at::allclose(t.to(at::kDouble), at::full({5}, c.expected, at::kDouble)))
          << reduce_op_name(c.op) << ": " << t.to(at::kDouble)[0].item<double>() << " vs "
          << c.expected;
    }
    // Async and in place on a non-contiguous view.
    at::Tensor m = base.to(dt).repeat({2}).view({2, 5}).t();  // a copy
    comm->all_reduce_async(m, ReduceOp::kSum)->wait();
    EXPECT_TRUE(at::allclose(m.to(at::kDouble), at::full({5, 2}, sum, at::kDouble)));
  }
}

MMAUX_COLLECTIVE_TEST(Comm, AllGatherEqualAndUnequalSizes, 60) {
  for (const at::ScalarType dt : kDtypes) {
    SCOPED_TRACE(c10::toString(dt));
    at::Tensor got = comm->all_gather(pattern(r, 2, dt));
    std::vector<at::Tensor> parts;
    for (int q = 0; q < w; ++q) parts.push_back(pattern(q, 2, dt));
    EXPECT_TRUE(at::equal(got, at::cat(parts)));
    // Rank q holds q + 1 rows (rank 0 one row); also a rank with zero rows when W > 1.
    auto rows = [](int q) { return q == 1 ? 0 : q + 1; };
    got = comm->all_gather_varsize(pattern(r, rows(r), dt));
    parts.clear();
    for (int q = 0; q < w; ++q) parts.push_back(pattern(q, rows(q), dt));
    EXPECT_TRUE(at::equal(got, at::cat(parts)));
    std::vector<int64_t> counts = gather_counts(rows(r), *comm);
    for (int q = 0; q < w; ++q) EXPECT_EQ(counts[q], rows(q));
  }
}

MMAUX_COLLECTIVE_TEST(Comm, ReduceScatterGivesEachRankTheSumOfItsSlice, 60) {
  for (const at::ScalarType dt : kDtypes) {
    SCOPED_TRACE(c10::toString(dt));
    std::vector<int64_t> counts;
    for (int q = 0; q < w; ++q) counts.push_back(q % 2 == 0 ? 2 : 1);
    int64_t total = 0, offset = 0;
    for (int q = 0; q < w; ++q) {
      if (q < r) offset += counts[q];
      total += counts[q];
    }
    at::Tensor in = pattern(r, total, dt);
    at::Tensor got = comm->reduce_scatter(in, counts, ReduceOp::kSum);
    // Σ_q (100 q + 10 i + j) over rows i of this rank's slice.
    at::Tensor expected = at::zeros({counts[r], 3}, at::kDouble);
    for (int q = 0; q < w; ++q)
      expected += pattern(q, total, at::kDouble).narrow(0, offset, counts[r]);
    EXPECT_TRUE(at::allclose(got.to(at::kDouble), expected, 1e-2, 0)) << got;
  }
}

MMAUX_COLLECTIVE_TEST(Comm, BroadcastAndBarrier, 60) {
  for (const at::ScalarType dt : kDtypes) {
    SCOPED_TRACE(c10::toString(dt));
    for (int root = 0; root < w; ++root) {
      at::Tensor t = pattern(r, 3, dt);
      comm->broadcast(t, root);
      EXPECT_TRUE(at::equal(t, pattern(root, 3, dt)));
    }
    comm->barrier();
  }
}

MMAUX_COLLECTIVE_TEST(CommDuplicate, OrdersItsCollectivesIndependently, 30) {
  auto dup = comm->duplicate();
  EXPECT_EQ(dup->rank(), r);
  EXPECT_EQ(dup->world_size(), w);
  at::Tensor a = at::full({4}, r + 1.0, at::kDouble);
  at::Tensor g;
  // Even ranks start the duplicate's all-reduce before the gather, odd ranks after it: on one
  // communicator this order mismatch would pair the wrong operations.
  std::shared_ptr<Work> work;
  if (r % 2 == 0) work = dup->all_reduce_async(a, ReduceOp::kSum);
  g = comm->all_gather(at::full({1}, double(r), at::kDouble));
  if (r % 2 == 1) work = dup->all_reduce_async(a, ReduceOp::kSum);
  work->wait();
  EXPECT_TRUE(at::equal(a, at::full({4}, w * (w + 1) / 2.0, at::kDouble)));
  EXPECT_TRUE(at::equal(g, at::arange(w, at::kDouble)));
}

#if !MMAUX_COLLECTIVE_THREADS
// (An unknown backend name is refused when the option is parsed: tests/unit/config.)
TEST(CommErrors, CudaTensorsAreRefusedByTheMpiBackend) {
  DistOptions o;
  o.backend = CommBackend::kMpi;
  EXPECT_THROW(make_communicator(o, true, testing::mpi_topology()), ConfigError);
}
#endif

// all_gather_with_grad: rank r holds x_r (b_r rows); the loss on rank q is Σ G_q ⊙ gather(x),
// with upstream gradient G_q[i, j] = (q + 1) (i + 1) + j. Closed form: rank r's gradient is
// Σ_q G_q restricted to r's rows.
void check_gather_with_grad(Communicator& comm, bool unequal) {
  const int r = comm.rank(), w = comm.world_size();
  auto rows = [&](int q) -> int64_t { return unequal ? q + 1 : 2; };
  int64_t total = 0, offset = 0;
  for (int q = 0; q < w; ++q) {
    if (q < r) offset += rows(q);
    total += rows(q);
  }
  at::Tensor x =
      (at::arange(rows(r) * 4, at::kDouble).view({rows(r), 4}) + 10.0 * r).set_requires_grad(true);
  at::Tensor y = all_gather_with_grad(x, comm);
  ASSERT_EQ(y.size(0), total);
  // Forward: rank q's rows in rank order.
  int64_t pos = 0;
  for (int q = 0; q < w; ++q) {
    at::Tensor xq = at::arange(rows(q) * 4, at::kDouble).view({rows(q), 4}) + 10.0 * q;
    EXPECT_TRUE(at::equal(y.detach().narrow(0, pos, rows(q)), xq));
    pos += rows(q);
  }
  auto upstream = [&](int q) {
    at::Tensor i = at::arange(total, at::kDouble).unsqueeze(1);
    at::Tensor j = at::arange(4, at::kDouble).unsqueeze(0);
    return (q + 1.0) * (i + 1.0) + j;
  };
  (y * upstream(r)).sum().backward();
  at::Tensor expected = at::zeros({rows(r), 4}, at::kDouble);
  for (int q = 0; q < w; ++q) expected += upstream(q).narrow(0, offset, rows(r));
  EXPECT_TRUE(at::equal(x.grad(), expected)) << x.grad() << "\nexpected\n" << expected;
}

MMAUX_COLLECTIVE_TEST(GatherGrad, BackwardIsTheSumOverRanksOfTheUpstreamSlices, 60) {
  for (bool unequal : {false, true}) {
    SCOPED_TRACE(unequal ? "unequal rows" : "equal rows");
    check_gather_with_grad(*comm, unequal);
  }
}

MMAUX_COLLECTIVE_TEST(GatherPadded, PadsEveryDimToTheLargestRank, 60) {
  // Rank q holds q + 1 rows of q + 2 tokens, all equal to q + 10; padding is -1.
  at::Tensor mine = at::full({r + 1, r + 2}, r + 10.0, at::kLong);
  at::Tensor got = all_gather_padded(mine, *comm, -1);
  ASSERT_EQ(got.size(0), w * (w + 1) / 2);
  ASSERT_EQ(got.size(1), w + 1);
  int64_t row = 0;
  for (int q = 0; q < w; ++q) {
    for (int i = 0; i <= q; ++i, ++row) {
      for (int j = 0; j < w + 1; ++j) {
        EXPECT_EQ(got[row][j].item<int64_t>(), j < q + 2 ? q + 10 : -1) << row << "," << j;
      }
    }
  }
}

}  // namespace
}  // namespace mmaux::dist
