// `mmaux synth`, `preprocess`, `predict` and `export` in a GPU-subset build (MMAUX_GPU_SUBSET=ON),
// which has no libvips and no utf8proc: the commands keep their options and help, and say how to
// get them.
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
  struct State {
    LogOptions log;
    SynthOptions synth;
  };
  auto s = std::make_shared<State>();
  Command c;
  c.name = "synth";
  c.summary = "write the synthetic data set (not in this GPU-subset build)";
  c.usage = "mmaux synth --out DIR [options]";
  c.example = "mmaux synth --out data/synth --posts 2000 --seed 1";
  c.distributed = false;
  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_synth_options(set, s->synth);
    declare_log_options(set, s->log);
  };
  c.run = []() -> int { not_in_subset("synth"); };
  return c;
}

Command make_preprocess_command() {
  struct State {
    LogOptions log;
    PreprocessOptions preprocess;
  };
  auto s = std::make_shared<State>();
  Command c;
  c.name = "preprocess";
  c.summary = "turn a raw data set into HDF5 shards (not in this GPU-subset build)";
  c.usage = "mmaux preprocess --dataset NAME --raw DIR --out DIR --model DIR [options]";
  c.example = "mmaux preprocess --dataset csv --raw data/synth --out data/shards --model m";
  c.distributed = false;  // it stops before any rank would exchange anything
  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_preprocess_options(set, s->preprocess);
    declare_log_options(set, s->log);
  };
  c.run = []() -> int { not_in_subset("preprocess"); };
  return c;
}

// predict and export read raw posts (images, text normalisation) or write tokenizers: full build
// only.
Command make_predict_command() {
  Command c;
  c.name = "predict";
  c.summary = "score raw posts with a trained model (not in this GPU-subset build)";
  c.usage = "mmaux predict --checkpoint RUN/best --input FILE [--out FILE]";
  c.example = "mmaux predict --checkpoint runs/r1/best --input posts.jsonl";
  c.distributed = false;
  c.declare = [](OptionSet&) {};
  c.run = []() -> int { not_in_subset("predict"); };
  return c;
}

Command make_export_command() {
  Command c;
  c.name = "export";
  c.summary = "write a checkpoint as Hugging Face directories (not in this GPU-subset build)";
  c.usage = "mmaux export --checkpoint RUN/best --out DIR";
  c.example = "mmaux export --checkpoint runs/r1/best --out exported/r1";
  c.distributed = false;
  c.declare = [](OptionSet&) {};
  c.run = []() -> int { not_in_subset("export"); };
  return c;
}

}  // namespace mmaux::cli
