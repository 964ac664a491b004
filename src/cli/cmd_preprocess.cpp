#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "cli/command.h"
#include "mmaux/core/log.h"
#include "mmaux/data/preprocess.h"
#include "readers.h"

namespace mmaux::cli {

Command make_preprocess_command() {
  struct State {
    LogOptions log;
    PreprocessOptions preprocess;
  };
  auto s = std::make_shared<State>();
  Command c;
  c.name = "preprocess";
  c.summary = "turn a raw data set into sharded HDF5 with a manifest and a skip report";
  c.usage = "mmaux preprocess --dataset NAME --raw DIR --out DIR --model DIR [options]";
  c.example =
      "mmaux preprocess --dataset csv --raw data/synth --out data/synth-shards --model "
      "data/synth/model";
  c.distributed = false;

  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_preprocess_options(set, s->preprocess);
    declare_log_options(set, s->log);
  };
  c.run = [s] {
    const auto& o = s->preprocess;
    auto raw = preprocessing::read_raw_dataset(o);
    log_info("data", "read {} posts and {} unusable rows from '{}' ({})", raw.posts.size(),
             raw.skipped.size(), o.raw, name_of(*o.dataset));
    auto report = data::run_preprocess(o, std::move(raw));
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
  };
  return c;
}

}  // namespace mmaux::cli
