// `mmaux synth` and `mmaux preprocess` in a GPU-subset build (MMAUX_GPU_SUBSET=ON), which has no
// libvips and no utf8proc: the commands keep their options and help, and say how to get them.
#include <memory>

#include "cli/command.h"
#include "mmaux/core/error.h"

namespace mmaux::cli {
namespace {

[[noreturn]] void not_in_subset(const char* name) {
  MMAUX_THROW(ConfigError,
              "mmaux {}: this build is the GPU subset (MMAUX_GPU_SUBSET=ON), which has no image "
              "decoding or text normalisation (libvips, utf8proc); run '{}' with a full build, or "
              "write shards with the data library (bench/gpu/make_shards)",
              name, name);
}

}  // namespace

Command make_synth_command() {
  auto o = std::make_shared<SynthOptions>();
  Command c;
  c.name = "synth";
  c.summary = "write the synthetic data set (not in this GPU-subset build)";
  c.usage = "mmaux synth --out DIR [options]";
  c.example = "mmaux synth --out data/synth --posts 2000 --seed 1";
  c.declare = [o](OptionSet& set) { declare_synth_options(set, *o); };
  c.run = []() -> int { not_in_subset("synth"); };
  return c;
}

Command make_preprocess_command() {
  auto o = std::make_shared<PreprocessOptions>();
  Command c;
  c.name = "preprocess";
  c.summary = "turn a raw data set into HDF5 shards (not in this GPU-subset build)";
  c.usage = "mmaux preprocess --dataset NAME --raw DIR --out DIR --model DIR [options]";
  c.example = "mmaux preprocess --dataset csv --raw data/synth --out data/shards --model m";
  c.declare = [o](OptionSet& set) { declare_preprocess_options(set, *o); };
  c.run = []() -> int { not_in_subset("preprocess"); };
  return c;
}

}  // namespace mmaux::cli
