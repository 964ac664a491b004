#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "mmaux/core/error.h"
#include "mmaux/core/worker_pool.h"

namespace mmaux {
namespace {

TEST(WorkerPool, WorkerCount) {
  EXPECT_EQ(worker_count(3), 3u);
  EXPECT_GE(worker_count(0), 1u);
  EXPECT_GE(worker_count(-1), 1u);
}

TEST(WorkerPool, ParallelForRunsEveryJobOnce) {
  for (unsigned threads : {1u, 4u, 64u}) {
    std::vector<std::atomic<int>> runs(1000);
    parallel_for(runs.size(), threads, [&](size_t i) { runs[i]++; });
    for (size_t i = 0; i < runs.size(); ++i) ASSERT_EQ(runs[i], 1) << "job " << i;
  }
  parallel_for(0, 4, [](size_t) { FAIL() << "no job to run"; });
}

TEST(WorkerPool, ParallelForRethrowsTheJobsException) {
  for (unsigned threads : {1u, 4u}) {
    std::atomic<int> ran{0};
    try {
      parallel_for(10000, threads, [&](size_t i) {
        ran++;
        if (i == 17) MMAUX_THROW(DataError, "image {} is broken", i);
      });
      FAIL() << "expected the DataError of job 17";
    } catch (const DataError& e) {
      EXPECT_EQ(std::string(e.what()), "image 17 is broken");
    }
    // No new job starts after a failure (with several workers, the others may finish a few
    // jobs before they see it: only one worker makes this exact).
    if (threads == 1) {
      EXPECT_EQ(ran, 18);
    }
  }
}

TEST(WorkerPool, OrderedConsumesInOrderWithinTheWindow) {
  const size_t n = 500, window = 8;
  std::atomic<size_t> consumed{0};
  std::atomic<bool> outside{false};
  std::vector<size_t> order;
  parallel_ordered<std::string>(
      n, 4, window,
      [&](size_t k) {
        if (k > consumed + window) outside = true;
        return std::to_string(k * k);
      },
      [&](size_t k, std::string&& v) {
        EXPECT_EQ(v, std::to_string(k * k));
        order.push_back(k);
        consumed++;
      });
  ASSERT_EQ(order.size(), n);
  for (size_t k = 0; k < n; ++k) ASSERT_EQ(order[k], k);
  EXPECT_FALSE(outside) << "a job started more than the window ahead of the consumer";
}

TEST(WorkerPool, OrderedRethrowsFromEitherSide) {
  auto produce = [](size_t k) -> int {
    if (k == 40) MMAUX_THROW(DataError, "produce {}", k);
    return int(k);
  };
  auto keep = [](size_t, int&&) {};
  try {
    parallel_ordered<int>(100, 3, 4, produce, keep);
    FAIL() << "expected produce's error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "produce 40");
  }
  size_t last = 0;
  try {
    parallel_ordered<int>(
        100, 3, 4, [](size_t k) { return int(k); },
        [&](size_t k, int&&) {
          last = k;
          if (k == 10) MMAUX_THROW(ConfigError, "consume {}", k);
        });
    FAIL() << "expected consume's error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "consume 10");
  }
  EXPECT_EQ(last, 10u);
}

}  // namespace
}  // namespace mmaux
