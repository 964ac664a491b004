#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <thread>

#include "cli/command.h"
#include "mmaux/core/log.h"
#include "mmaux/data/preprocess.h"
#include "mmaux/dist/communicator.h"
#include "mmaux/dist/runtime.h"
#include "rank_exchange.h"
#include "readers.h"
#include "region_sources.h"

namespace mmaux::cli {
namespace {

// Ranks wait for the slowest one at the exchange after writing their shards, which can take
// long on a large data set: a collective there is not a hang until a day has passed. A rank
// that fails ends the job at once (MPI_Abort); one that dies is ended by the launcher.
constexpr double kRankWaitS = 24 * 3600;

int run_preprocess_command(PreprocessOptions o, const dist::Topology& topology) {
  DistOptions dist;
  dist.backend = topology.world_size > 1 ? CommBackend::kMpi : CommBackend::kLocal;
  dist.timeout_s = kRankWaitS;
  // --threads 0: the node's cores shared by the ranks on it.
  DistOptions per_rank;
  per_rank.threads = o.threads;
  o.threads = dist::threads_per_rank(per_rank, topology, std::thread::hardware_concurrency());
  auto comm = dist::make_communicator(dist, false, topology);
  auto ranks = preprocessing::make_preprocess_ranks(comm);
  auto raw = preprocessing::read_raw_dataset(o);
  auto regions = preprocessing::open_region_source(o.region_features, raw, o.region_grid_model);
  log_info("data",
           "read {} posts, {} unusable rows and {} filtered by the data set's rules from "
           "'{}' ({}); {} rank(s) of {} thread(s)",
           raw.posts.size(), raw.skipped.size(), raw.filtered.size(), o.raw, name_of(*o.dataset),
           topology.world_size, o.threads);
  if (regions) {
    log_info("data", "region features from '{}' ({})", regions->path(), regions->kind());
  }
  auto report = data::run_preprocess(o, std::move(raw), ranks.get(), regions.get());
  if (topology.rank != 0) return 0;
  if (report.up_to_date) {
    fmt::print("{} is up to date (read {} posts); use --force to rebuild\n", o.out, report.read);
  } else {
    fmt::print(
        "{}\nwrote {}/manifest.json, skip report {}/skipped.csv ({:.1f} s, {:.0f} "
        "posts/s)\n",
        report.summary(), o.out, o.out, report.seconds,
        report.read / std::max(report.seconds, 1e-9));
  }
  return 0;
}

}  // namespace

Command make_preprocess_command() {
  struct State {
    LogOptions log;
    PreprocessOptions preprocess;
    dist::Topology topology;
  };
  auto s = std::make_shared<State>();
  Command c;
  c.name = "preprocess";
  c.summary =
      "turn a raw data set into sharded HDF5 with a manifest and a skip report (alone or under "
      "mpirun/srun)";
  c.usage = "mmaux preprocess --dataset NAME --raw DIR --out DIR --model DIR [options]";
  c.example =
      "mmaux preprocess --dataset csv --raw data/synth --out data/synth-shards --model "
      "data/synth/model";
  c.distributed = true;
  c.topology = &s->topology;

  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_preprocess_options(set, s->preprocess);
    declare_log_options(set, s->log);
  };
  c.run = [s] { return run_preprocess_command(s->preprocess, s->topology); };
  return c;
}

}  // namespace mmaux::cli
