// The MPI communicator and all_gather_with_grad against closed forms, at any world size.
// Rank r contributes values built from r, so every expected result is a formula in r and W.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include "mmaux/config/dist_options.h"
#include "mmaux/core/error.h"
#include "mmaux/dist/all_gather.h"
#include "mmaux/dist/communicator.h"

namespace mmaux::dist {
namespace {

class Comm : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  void SetUp() override {
    DistOptions o;
    o.timeout_s = 60;
    comm_ = make_communicator(o, false);
    r_ = comm_->rank();
    w_ = comm_->world_size();
  }
  /// [rows, 3] with element (i, j) = 100 r + 10 i + j, in `dtype`.
  at::Tensor pattern(int r, int64_t rows, at::ScalarType dtype) const {
    at::Tensor i = at::arange(rows, at::kDouble).unsqueeze(1);
    at::Tensor j = at::arange(3, at::kDouble).unsqueeze(0);
    return (100.0 * r + 10.0 * i + j).to(dtype);
  }
  std::shared_ptr<Communicator> comm_;
  int r_ = 0, w_ = 1;
};

TEST_P(Comm, FactoryPicksMpiUnderMpirun) { EXPECT_EQ(comm_->backend(), "mpi"); }

TEST_P(Comm, AllReduceSumAvgMaxMin) {
  const at::ScalarType dt = GetParam();
  at::Tensor base = at::full({5}, static_cast<double>(r_ + 1), at::kDouble);
  const double sum = w_ * (w_ + 1) / 2.0;
  struct Case {
    ReduceOp op;
    double expected;
  } cases[] = {{ReduceOp::kSum, sum},
               {ReduceOp::kAvg, dt == at::kLong ? std::trunc(sum / w_) : sum / w_},
               {ReduceOp::kMax, static_cast<double>(w_)},
               {ReduceOp::kMin, 1.0}};
  for (const auto& c : cases) {
    at::Tensor t = base.to(dt).clone();
    comm_->all_reduce(t, c.op);
    EXPECT_EQ(t.scalar_type(), dt);
    EXPECT_TRUE(at::allclose(t.to(at::kDouble), at::full({5}, c.expected, at::kDouble)))
        << reduce_op_name(c.op) << ": " << t.to(at::kDouble)[0].item<double>() << " vs "
        << c.expected;
  }
  // Async and in place on a non-contiguous view.
  at::Tensor m = base.to(dt).repeat({2}).view({2, 5}).t();  // a copy
  comm_->all_reduce_async(m, ReduceOp::kSum)->wait();
  EXPECT_TRUE(at::allclose(m.to(at::kDouble), at::full({5, 2}, sum, at::kDouble)));
}

TEST_P(Comm, AllGatherEqualAndUnequalSizes) {
  const at::ScalarType dt = GetParam();
  at::Tensor got = comm_->all_gather(pattern(r_, 2, dt));
  std::vector<at::Tensor> parts;
  for (int q = 0; q < w_; ++q) parts.push_back(pattern(q, 2, dt));
  EXPECT_TRUE(at::equal(got, at::cat(parts)));
  // Rank q holds q + 1 rows (rank 0 one row); also a rank with zero rows when W > 1.
  auto rows = [](int q) { return q == 1 ? 0 : q + 1; };
  got = comm_->all_gather_varsize(pattern(r_, rows(r_), dt));
  parts.clear();
  for (int q = 0; q < w_; ++q) parts.push_back(pattern(q, rows(q), dt));
  EXPECT_TRUE(at::equal(got, at::cat(parts)));
  std::vector<int64_t> counts = gather_counts(rows(r_), *comm_);
  for (int q = 0; q < w_; ++q) EXPECT_EQ(counts[q], rows(q));
}

TEST_P(Comm, ReduceScatterGivesEachRankTheSumOfItsSlice) {
  const at::ScalarType dt = GetParam();
  std::vector<int64_t> counts;
  for (int q = 0; q < w_; ++q) counts.push_back(q % 2 == 0 ? 2 : 1);
  int64_t total = 0, offset = 0;
  for (int q = 0; q < w_; ++q) {
    if (q < r_) offset += counts[q];
    total += counts[q];
  }
  at::Tensor in = pattern(r_, total, dt);
  at::Tensor got = comm_->reduce_scatter(in, counts, ReduceOp::kSum);
  // Σ_q (100 q + 10 i + j) over rows i of this rank's slice.
  at::Tensor expected = at::zeros({counts[r_], 3}, at::kDouble);
  for (int q = 0; q < w_; ++q)
    expected += pattern(q, total, at::kDouble).narrow(0, offset, counts[r_]);
  EXPECT_TRUE(at::allclose(got.to(at::kDouble), expected, 1e-2, 0)) << got;
}

TEST_P(Comm, BroadcastAndBarrier) {
  const at::ScalarType dt = GetParam();
  for (int root = 0; root < w_; ++root) {
    at::Tensor t = pattern(r_, 3, dt);
    comm_->broadcast(t, root);
    EXPECT_TRUE(at::equal(t, pattern(root, 3, dt)));
  }
  comm_->barrier();
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Comm,
                         ::testing::Values(at::kFloat, at::kDouble, at::kBFloat16, at::kLong),
                         [](const auto& info) { return std::string(c10::toString(info.param)); });

TEST(CommDuplicate, OrdersItsCollectivesIndependently) {
  DistOptions o;
  o.timeout_s = 30;
  auto comm = make_communicator(o, false);
  auto dup = comm->duplicate();
  const int r = comm->rank(), w = comm->world_size();
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

// (An unknown backend name is refused when the option is parsed: tests/unit/config.)
TEST(CommErrors, CudaTensorsAreRefusedByTheMpiBackend) {
  DistOptions o;
  o.backend = CommBackend::kMpi;
  EXPECT_THROW(make_communicator(o, true), ConfigError);
}

// all_gather_with_grad: rank r holds x_r (b_r rows); the loss on rank q is Σ G_q ⊙ gather(x),
// with upstream gradient G_q[i, j] = (q + 1) (i + 1) + j. Closed form: rank r's gradient is
// Σ_q G_q restricted to r's rows.
class GatherGrad : public ::testing::TestWithParam<bool> {};

TEST_P(GatherGrad, BackwardIsTheSumOverRanksOfTheUpstreamSlices) {
  DistOptions o;
  auto comm = make_communicator(o, false);
  const int r = comm->rank(), w = comm->world_size();
  const bool unequal = GetParam();
  auto rows = [&](int q) -> int64_t { return unequal ? q + 1 : 2; };
  int64_t total = 0, offset = 0;
  for (int q = 0; q < w; ++q) {
    if (q < r) offset += rows(q);
    total += rows(q);
  }
  at::Tensor x =
      (at::arange(rows(r) * 4, at::kDouble).view({rows(r), 4}) + 10.0 * r).set_requires_grad(true);
  at::Tensor y = all_gather_with_grad(x, *comm);
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

TEST(GatherPadded, PadsEveryDimToTheLargestRank) {
  DistOptions o;
  auto comm = make_communicator(o, false);
  const int r = comm->rank(), w = comm->world_size();
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

INSTANTIATE_TEST_SUITE_P(Sizes, GatherGrad, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Unequal" : "Equal"; });

}  // namespace
}  // namespace mmaux::dist
