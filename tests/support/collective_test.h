#pragma once
// Tests of collective code written once and run in two harnesses (mmaux_add_collective_test):
//   - MMAUX_COLLECTIVE_THREADS = 0: under mpirun at 1, 2 and 4 ranks on the MPI communicator;
//   - MMAUX_COLLECTIVE_THREADS = 1: as W = 1, 2 and 4 threads of one process on thread
//     communicators (mmaux/dist/thread_ranks.h), with the unit tests: fast, and a rank that
//     throws or never joins fails the test instead of hanging it.
//
//   MMAUX_COLLECTIVE_TEST(Suite, Name, timeout_s) { ... }
// The body runs on every rank with `comm` (std::shared_ptr<dist::Communicator>), `r` (its rank)
// and `w` (the world size) in scope; collectives time out after timeout_s. As in every test of
// collective code: compute, communicate, then check (never assert before a collective that
// other ranks enter).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "mmaux/dist/communicator.h"

#if MMAUX_COLLECTIVE_THREADS

#include "mmaux/dist/thread_ranks.h"

#define MMAUX_COLLECTIVE_TEST(suite, name, timeout_s)                                          \
  static void suite##_##name##_Body(const std::shared_ptr<::mmaux::dist::Communicator>& comm,  \
                                    int r, int w);                                             \
  class suite##_##name##_Ranks : public ::testing::TestWithParam<int> {};                      \
  TEST_P(suite##_##name##_Ranks, name) {                                                       \
    ::mmaux::dist::run_thread_ranks(                                                           \
        GetParam(),                                                                            \
        [](const std::shared_ptr<::mmaux::dist::Communicator>& c) {                            \
          suite##_##name##_Body(c, c->rank(), c->world_size());                                \
        },                                                                                     \
        timeout_s);                                                                            \
  }                                                                                            \
  INSTANTIATE_TEST_SUITE_P(suite, suite##_##name##_Ranks, ::testing::Values(1, 2, 4),          \
                           [](const auto& i) { return "threads" + std::to_string(i.param); }); \
  static void suite##_##name##_Body(const std::shared_ptr<::mmaux::dist::Communicator>& comm,  \
                                    int r, int w)

#else

#include "support/mpi_support.h"

#define MMAUX_COLLECTIVE_TEST(suite, name, timeout_s)                                         \
  static void suite##_##name##_Body(const std::shared_ptr<::mmaux::dist::Communicator>& comm, \
                                    int r, int w);                                            \
  TEST(suite, name) {                                                                         \
    auto c = ::mmaux::testing::mpi_test_communicator(timeout_s);                              \
    suite##_##name##_Body(c, c->rank(), c->world_size());                                     \
  }                                                                                           \
  static void suite##_##name##_Body(const std::shared_ptr<::mmaux::dist::Communicator>& comm, \
                                    int r, int w)

#endif
