#include <fmt/format.h>

#include <map>
#include <memory>

#include "cli/command.h"
#include "mmaux/core/log.h"
#include "mmaux/data/synth.h"

namespace mmaux::cli {

Command make_synth_command() {
  struct State {
    LogOptions log;
    SynthOptions synth;
  };
  auto s = std::make_shared<State>();
  Command c;
  c.name = "synth";
  c.summary =
      "write the synthetic data set (csv layout, real JPEG/PNG files, a tiny model directory)";
  c.usage = "mmaux synth --out DIR [options]";
  c.example = "mmaux synth --out data/synth --posts 2000 --seed 1";
  c.distributed = false;

  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_synth_options(set, s->synth);
    declare_log_options(set, s->log);
  };
  c.run = [s] {
    auto posts = data::write_synth_dataset(s->synth);
    std::map<std::string, int> by_split;
    for (const auto& p : posts) by_split[p.split]++;
    fmt::print(
        "wrote {} posts to {} (train {}, validation {}, test {}); model directory {}/model\n",
        posts.size(), s->synth.out, by_split["train"], by_split["validation"], by_split["test"],
        s->synth.out);
    if (s->synth.unlabeled > 0) {
      fmt::print(
          "wrote {} unlabeled posts to {}/unlabeled (preprocess with --dataset csv --raw "
          "{}/unlabeled)\n",
          s->synth.unlabeled, s->synth.out, s->synth.out);
    }
    return 0;
  };
  return c;
}

}  // namespace mmaux::cli
