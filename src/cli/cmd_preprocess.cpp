#include <memory>

#include "cli/command.h"

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
  c.issue = 3;
  c.distributed = false;

  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_preprocess_options(set, s->preprocess);
    declare_log_options(set, s->log);
  };
  return c;
}

}  // namespace mmaux::cli
