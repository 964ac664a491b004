// The loader under real mpirun: every rank reads its share, the shares are all-gathered and
// compared with what one process sees. Assertions hold at any world size.
#include <gtest/gtest.h>
#include <mpi.h>

#include <ATen/ATen.h>

#include <memory>

#include "mmaux/data/loader.h"
#include "support/test_support.h"
#include "unit/data/data_fixture.h"

namespace mmaux::data {
namespace {

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int w = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &w);
  return w;
}

/// Concatenation of every rank's values, in rank order.
std::vector<int64_t> all_gather(const std::vector<int64_t>& mine) {
  int w = world_size();
  int n = int(mine.size());
  std::vector<int> counts(w), displs(w);
  MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < w; ++r) {
    displs[r] = total;
    total += counts[r];
  }
  std::vector<int64_t> all(size_t(total) + 1);
  MPI_Allgatherv(mine.data(), n, MPI_INT64_T, all.data(), counts.data(), displs.data(), MPI_INT64_T,
                 MPI_COMM_WORLD);
  all.resize(size_t(total));
  return all;
}

/// Rank 0 writes the data set; every rank gets its directory.
std::string shared_dataset(std::unique_ptr<mmaux::testing::TempDir>& owner) {
  std::string dir;
  if (world_rank() == 0) {
    owner = std::make_unique<mmaux::testing::TempDir>("mmaux-mpi-loader");
    dir = owner->path().string();
    mmaux::testing::write_fixture_dataset(dir, {{"train", 29}, {"validation", 11}}, 6);
  }
  int len = int(dir.size());
  MPI_Bcast(&len, 1, MPI_INT, 0, MPI_COMM_WORLD);
  dir.resize(size_t(len));
  MPI_Bcast(dir.data(), len, MPI_CHAR, 0, MPI_COMM_WORLD);
  return dir;
}

std::vector<int64_t> to_vector(const at::Tensor& t) {
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}

}  // namespace

TEST(LoaderMpi, RanksTogetherSeeTheSingleProcessGlobalBatches) {
  std::unique_ptr<mmaux::testing::TempDir> owner;
  auto dir = shared_dataset(owner);
  auto manifest = Manifest::load(dir);
  for (const char* split : {"train", "validation"}) {
    LoaderOptions o;
    o.split = split;
    o.global_batch_size = 7;
    o.drop_last = std::string(split) == "train";
    o.shuffle = std::string(split) == "train";
    o.seed = 11;
    o.rank = world_rank();
    o.world_size = world_size();
    Loader mine(manifest, o);
    o.rank = 0;
    o.world_size = 1;
    Loader single(manifest, o);
    mine.start_epoch(4);
    single.start_epoch(4);
    ASSERT_EQ(mine.steps_per_epoch(), single.steps_per_epoch());
    std::vector<int64_t> epoch;
    for (int64_t step = 0; step < single.steps_per_epoch(); ++step) {
      auto b = mine.next();
      auto ref = single.next();
      ASSERT_TRUE(b && ref);
      auto gathered = all_gather(to_vector(b->sample_index));
      EXPECT_EQ(gathered, to_vector(ref->sample_index)) << split << " step " << step;
      EXPECT_TRUE(at::equal(b->pixels, ref->pixels.narrow(0, b->row_offset, b->size())));
      EXPECT_TRUE(at::equal(b->input_ids, ref->input_ids.narrow(0, b->row_offset, b->size())));
      epoch.insert(epoch.end(), gathered.begin(), gathered.end());
    }
    EXPECT_FALSE(mine.next());
    if (!o.drop_last) {
      std::sort(epoch.begin(), epoch.end());
      std::vector<int64_t> all(size_t(manifest.split_size(split)));
      for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
      EXPECT_EQ(epoch, all) << "the union over ranks must be the epoch";
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);  // rank 0 removes the directory after everyone is done
}

}  // namespace mmaux::data
