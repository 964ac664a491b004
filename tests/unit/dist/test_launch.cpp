#include <gtest/gtest.h>

#include <map>
#include <string>

#include "mmaux/core/error.h"
#include "mmaux/dist/runtime.h"

namespace mmaux::dist {
namespace {

LaunchInfo detect(const std::map<std::string, std::string>& env) {
  return detect_launch([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(Launch, AloneIsOneRankWithoutMpi) {
  LaunchInfo i = detect({});
  EXPECT_FALSE(i.mpi);
  EXPECT_EQ(i.topology.world_size, 1);
  EXPECT_EQ(i.launcher, "none");
}

TEST(Launch, OpenMpi) {
  LaunchInfo i = detect({{"OMPI_COMM_WORLD_SIZE", "4"},
                         {"OMPI_COMM_WORLD_RANK", "3"},
                         {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                         {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}});
  EXPECT_TRUE(i.mpi);
  EXPECT_EQ(i.topology.rank, 3);
  EXPECT_EQ(i.topology.world_size, 4);
  EXPECT_EQ(i.topology.local_rank, 1);
  EXPECT_EQ(i.topology.local_size, 2);
}

TEST(Launch, SrunWithPmix) {
  LaunchInfo i = detect({{"PMIX_RANK", "1"},
                         {"SLURM_STEP_NUM_TASKS", "2"},
                         {"SLURM_LOCALID", "1"},
                         {"SLURM_STEP_TASKS_PER_NODE", "2"}});
  EXPECT_EQ(i.launcher, "pmix");
  EXPECT_EQ(i.topology.rank, 1);
  EXPECT_EQ(i.topology.world_size, 2);
}

TEST(Launch, SrunWithoutMpiSupportIsRefused) {
  try {
    detect({{"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_PROCID", "0"}});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--mpi=pmix"), std::string::npos) << e.what();
  }
}

TEST(Launch, BatchShellOfAnAllocationIsOneProcess) {
  LaunchInfo i = detect({{"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "0"}});
  EXPECT_EQ(i.topology.world_size, 1);
}

TEST(Launch, BadValuesAreNamed) {
  try {
    detect({{"OMPI_COMM_WORLD_SIZE", "two"}});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("OMPI_COMM_WORLD_SIZE='two'"), std::string::npos);
  }
}

TEST(Launch, ThreadsPerRankShareTheNodesCores) {
  DistOptions o;
  Topology four;
  four.local_size = 4;
  EXPECT_EQ(threads_per_rank(o, four, 16), 4);
  EXPECT_EQ(threads_per_rank(o, four, 2), 1);  // oversubscribed: never 0
  EXPECT_EQ(threads_per_rank(o, four, 0), 1);
  o.threads = 3;
  EXPECT_EQ(threads_per_rank(o, four, 16), 3);
}

}  // namespace
}  // namespace mmaux::dist
