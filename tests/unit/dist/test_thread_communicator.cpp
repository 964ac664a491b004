// The thread communicator's failure rules: a test of collective code must fail, never hang.
// (Its collectives are tested against closed forms by the _threads variants of tests/dist.)
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <atomic>
#include <chrono>
#include <string>

#include "mmaux/core/error.h"
#include "mmaux/dist/thread_ranks.h"
#include "support/test_support.h"

namespace mmaux::dist {
namespace {

using Comm = std::shared_ptr<Communicator>;

using testing::message_of;

TEST(ThreadRanks, EveryRankRunsWithItsOwnNumber) {
  std::atomic<int> sum{0};
  run_thread_ranks(4, [&](const Comm& c) {
    EXPECT_EQ(c->backend(), "threads");
    EXPECT_EQ(c->world_size(), 4);
    sum += c->rank() + 1;
    at::Tensor t = at::full({2}, c->rank() + 1.0, at::kDouble);
    c->all_reduce(t, ReduceOp::kSum);
    EXPECT_EQ(t[0].item<double>(), 10.0);
  });
  EXPECT_EQ(sum, 10);
}

TEST(ThreadRanks, AMissingRankTimesOutNamingIt) {
  // Rank 1 never joins; with make_thread_communicators (no run_thread_ranks bookkeeping) only
  // the timeout ends the wait.
  auto comms = make_thread_communicators(3, 0.2);
  std::string msg[2];
  std::thread t0([&] { msg[0] = message_of([&] { comms[0]->barrier(); }); });
  std::thread t2([&] { msg[1] = message_of([&] { comms[2]->barrier(); }); });
  t0.join();
  t2.join();
  for (const auto& m : msg) {
    EXPECT_NE(m.find("did not complete within 0.2 s"), std::string::npos) << m;
    EXPECT_NE(m.find("rank(s) 1 never joined"), std::string::npos) << m;
  }
}

TEST(ThreadRanks, ARankThatReturnsEarlyFailsTheOthersAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  std::string msg = message_of([] {
    run_thread_ranks(
        2,
        [](const Comm& c) {
          if (c->rank() == 1) return;  // skips the barrier
          c->barrier();
        },
        60);
  });
  EXPECT_NE(msg.find("rank 1 finished without joining it"), std::string::npos) << msg;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(ThreadRanks, AThrowingRankAbortsTheGroupAndItsExceptionIsRethrown) {
  try {
    run_thread_ranks(3, [](const Comm& c) {
      auto dup = c->duplicate();
      if (c->rank() == 2) MMAUX_THROW(DataError, "rank 2 broke on purpose");
      at::Tensor t = at::ones({1}, at::kDouble);
      dup->all_reduce(t, ReduceOp::kSum);  // on the duplicate: the abort reaches it too
    });
    FAIL() << "expected the DataError of rank 2";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 2 broke on purpose"), std::string::npos);
  }
}

TEST(ThreadRanks, MismatchedCollectivesAreNamed) {
  std::string msg = message_of([] {
    run_thread_ranks(2, [](const Comm& c) {
      at::Tensor t = at::ones({2}, at::kDouble);
      if (c->rank() == 0) {
        c->all_reduce(t, ReduceOp::kSum);
      } else {
        c->all_gather(t);
      }
    });
  });
  EXPECT_NE(msg.find("all_reduce(sum)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("all_gather"), std::string::npos) << msg;
  EXPECT_NE(msg.find("different orders"), std::string::npos) << msg;
}

TEST(ThreadRanks, ShapeAndDtypeRulesFollowTheMpiBackend) {
  std::string msg = message_of([] {
    run_thread_ranks(2, [](const Comm& c) {
      at::Tensor t = at::ones({c->rank() + 1}, at::kDouble);  // different sizes
      c->all_reduce(t, ReduceOp::kSum);
    });
  });
  EXPECT_NE(msg.find("Double [1]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Double [2]"), std::string::npos) << msg;
  msg = message_of([] {
    run_thread_ranks(1, [](const Comm& c) {
      at::Tensor t = at::ones({2}, at::kInt);
      c->all_reduce(t, ReduceOp::kSum);
    });
  });
  EXPECT_NE(msg.find("dtype Int is not supported"), std::string::npos) << msg;
}

TEST(ThreadRanks, AsyncReductionsOverlapAndAverageLikeMpi) {
  run_thread_ranks(4, [](const Comm& c) {
    const int r = c->rank();
    at::Tensor a = at::full({3}, r + 1.0, at::kFloat);
    at::Tensor b = at::full({2}, int64_t{r + 2}, at::kLong);
    at::Tensor h = at::full({2}, r + 1.0, at::kBFloat16);
    auto wa = c->all_reduce_async(a, ReduceOp::kAvg);
    auto wb = c->all_reduce_async(b, ReduceOp::kAvg);
    c->all_reduce(h, ReduceOp::kSum);
    wb->wait();
    wa->wait();
    EXPECT_FLOAT_EQ(a[0].item<float>(), 2.5f);
    EXPECT_EQ(b[0].item<int64_t>(), 14 / 4);  // truncated, as MPI's integer average
    EXPECT_EQ(h[1].item<float>(), 10.0f);
  });
}

}  // namespace
}  // namespace mmaux::dist
