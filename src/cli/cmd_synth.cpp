#include <memory>

#include "cli/command.h"

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
  c.issue = 3;
  c.distributed = false;

  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_synth_options(set, s->synth);
    declare_log_options(set, s->log);
  };
  return c;
}

}  // namespace mmaux::cli
