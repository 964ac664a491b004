// `mmaux predict` and `mmaux export`.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <thread>

#include "cli/command.h"
#include "mmaux/config/predict_options.h"
#include "mmaux/core/error.h"
#include "mmaux/core/log.h"
#include "mmaux/dist/communicator.h"
#include "mmaux/dist/runtime.h"
#include "mmaux/predict/predict.h"

namespace mmaux::cli {
namespace {

// Exit code of predict when some rows could not be scored (each has its status and reason).
constexpr int kSomeRowsFailed = 3;

// The model options the checkpoint was trained with, reading the weights from the checkpoint
// itself (as `mmaux eval` does), so that the architecture and its settings are the same.
ModelOptions checkpoint_model(const std::string& checkpoint) {
  RunConfig run;
  LogOptions unused;
  OptionSet set;
  checkpoint_run_config(checkpoint, run, unused, set);
  run.model.dir = checkpoint;
  return run_model_options(run);
}

void declare_predict_options(OptionSet& set, PredictOptions& o) {
  set.group("Predict")
      .add("checkpoint", &o.checkpoint, "a model directory written by mmaux train (RUN/best)",
           required("give --checkpoint RUN/best"))
      .add("input", &o.input, "posts: csv (post_id,text[,image]) or JSON Lines; - = stdin",
           required("give --input FILE (or - for standard input)"))
      .add("out", &o.out, "output file (\"\" or - = standard output)")
      .add("input-format", &o.input_format, "auto (by extension; stdin: jsonl), csv or jsonl",
           one_of({"auto", "csv", "jsonl"}))
      .add("output-format", &o.output_format,
           "auto (by --out's extension, else the input's format), csv or jsonl",
           one_of({"auto", "csv", "jsonl"}))
      .add("image-root", &o.image_root,
           "directory relative image paths start from (\"\" = the input file's; stdin: .)")
      .add("image-template", &o.image_template, "csv without an image column: the image path")
      .add("batch-size", &o.batch_size, "posts per forward pass", int_range(1, 1 << 16))
      .add("threads", &o.threads, "intra-op threads per rank (0 = the node's cores / its ranks)",
           int_range(0, 1024))
      .add("decode-threads", &o.decode_threads,
           "background threads decoding images and texts per rank (0 = as --threads)",
           int_range(0, 1024))
      .add("explain", &o.explain,
           "also score each post with a neutral image and with empty text (3 passes)")
      .add("explain-threshold", &o.explain_threshold,
           "drop of the predicted class's probability that names a modality", in_range(0, 1))
      .add("max-image-pixels", &o.max_image_pixels,
           "refuse images whose header declares more pixels (as preprocess; 0 = no limit)",
           int_range(0, 1LL << 40))
      .add("max-image-bytes", &o.max_image_bytes,
           "refuse image files larger than this (as preprocess; 0 = no limit)",
           int_range(0, 1LL << 40));
}

int run_predict_command(PredictOptions o, const dist::Topology& topology) {
  DistOptions dist;
  dist.backend = topology.world_size > 1 ? CommBackend::kMpi : CommBackend::kLocal;
  DistOptions per_rank;
  per_rank.threads = o.threads;
  o.threads = dist::threads_per_rank(per_rank, topology, std::thread::hardware_concurrency());
  auto comm = dist::make_communicator(dist, false, topology);
  predict::PredictSummary s = predict::run_predict(o, checkpoint_model(o.checkpoint), *comm);
  if (topology.rank == 0) {
    const double wall = std::max(s.seconds, 1e-9);
    log_info("predict",
             "{} rows: {} scored, {} failed; {:.1f} s, {:.1f} posts/s; decoding {:.2f} CPU-ms "
             "per post; the scoring thread waited for decoded posts {:.0f} % of the time, forward "
             "passes {:.0f} %",
             s.rows, s.scored, s.failed, s.seconds, double(s.rows) / wall,
             s.rows > 0 ? 1e3 * s.decode_seconds / double(s.rows) : 0.0,
             100.0 * s.wait_seconds / (wall * topology.world_size),
             100.0 * s.model_seconds / (wall * topology.world_size));
  }
  return s.failed > 0 ? kSomeRowsFailed : 0;
}

}  // namespace

Command make_predict_command() {
  struct State {
    LogOptions log;
    PredictOptions predict;
    dist::Topology topology;
  };
  auto s = std::make_shared<State>();
  Command c;
  c.name = "predict";
  c.summary = "score raw posts (csv or JSON Lines) with a trained model; exit 3 if a row failed";
  c.usage = "mmaux predict --checkpoint RUN/best --input FILE|- [--out FILE] [options]";
  c.example = "mmaux predict --checkpoint runs/r1/best --input new_posts.jsonl --explain true";
  c.distributed = true;
  c.topology = &s->topology;
  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    declare_predict_options(set, s->predict);
    declare_log_options(set, s->log);
  };
  c.run = [s] { return run_predict_command(s->predict, s->topology); };
  return c;
}

Command make_export_command() {
  struct State {
    LogOptions log;
    ExportOptions o;
  };
  auto s = std::make_shared<State>();
  Command c;
  c.name = "export";
  c.summary = "write a trained model as Hugging Face directories plus predict_config.json";
  c.usage = "mmaux export --checkpoint RUN/best --out DIR";
  c.example = "mmaux export --checkpoint runs/r1/best --out exported/r1";
  c.log = &s->log;
  c.declare = [s](OptionSet& set) {
    set.group("Export")
        .add("checkpoint", &s->o.checkpoint, "a model directory written by mmaux train",
             required("give --checkpoint RUN/best"))
        .add("out", &s->o.out, "output directory (new or empty)", required("give --out DIR"));
    declare_log_options(set, s->log);
  };
  c.run = [s] {
    predict::run_export(s->o, checkpoint_model(s->o.checkpoint));
    fmt::print("exported '{}' to '{}'\n", s->o.checkpoint, s->o.out);
    return 0;
  };
  return c;
}

}  // namespace mmaux::cli
