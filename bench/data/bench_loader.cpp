// Loader throughput from a warm page cache, prefetch off and on.
//   bench_loader [posts=2000] [preset=fixed:224] [batch=32] [epochs=3] [consumer_ms=20]
// First the raw rate (nothing else running), then with a consumer that computes for consumer_ms
// per batch (a stand-in for a training step): the time next() then blocks per batch is what
// prefetching hides.
#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "mmaux/core/log.h"
#include "mmaux/data/loader.h"
#include "mmaux/data/preprocess.h"
#include "mmaux/data/synth.h"
#include "readers.h"

namespace fs = std::filesystem;
using namespace mmaux;

int main(int argc, char** argv) {
  int posts = argc > 1 ? std::stoi(argv[1]) : 2000;
  std::string preset = argc > 2 ? argv[2] : "fixed:224";
  int batch = argc > 3 ? std::stoi(argv[3]) : 32;
  int epochs = argc > 4 ? std::stoi(argv[4]) : 3;
  double consumer_ms = argc > 5 ? std::stod(argv[5]) : 20.0;
  configure_logging(LogConfig{LogLevel::kWarn});
  fs::path dir = fs::temp_directory_path() / fmt::format("mmaux-bench-load-{}", ::getpid());
  SynthOptions s;
  s.out = (dir / "raw").string();
  s.posts = posts;
  s.image_size = 96;
  data::write_synth_dataset(s);
  PreprocessOptions o;
  o.dataset = DatasetKind::kCsv;
  o.raw = s.out;
  o.out = (dir / "shards").string();
  o.model = (dir / "raw/model").string();
  o.image_preset = preset;
  data::run_preprocess(o, preprocessing::read_raw_dataset(o));
  auto manifest = data::Manifest::load(o.out);
  fmt::print("{} training samples, preset {}, global batch {}\n", manifest.split_size("train"),
             preset, batch);
  struct Setting {
    int prefetch, threads;
  };
  for (Setting st : {Setting{0, 1}, Setting{4, 1}, Setting{4, 2}}) {
    data::LoaderOptions lo;
    lo.split = "train";
    lo.global_batch_size = batch;
    lo.prefetch = st.prefetch;
    lo.threads = st.threads;
    data::Loader loader(manifest, lo);
    // One warm-up epoch fills the page cache.
    while (loader.next()) {
    }
    int64_t samples = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int e = 1; e <= epochs; ++e) {
      loader.start_epoch(e);
      while (auto b = loader.next()) samples += b->size();
    }
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // With a consumer: how long does next() block per batch?
    loader.start_epoch(epochs + 1);
    double waited = 0;
    int batches = 0;
    for (;;) {
      auto w0 = std::chrono::steady_clock::now();
      auto b = loader.next();
      waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
      if (!b) break;
      ++batches;
      auto busy_until =
          std::chrono::steady_clock::now() + std::chrono::microseconds(int64_t(consumer_ms * 1000));
      volatile double sink = 0;
      while (std::chrono::steady_clock::now() < busy_until) sink = sink + 1.0;
    }
    fmt::print(
        "prefetch {} threads {}: {:.0f} samples/s raw ({} samples in {:.2f} s); with a "
        "{:.0f} ms/batch consumer next() blocks {:.2f} ms per batch\n",
        st.prefetch, st.threads, samples / sec, samples, sec, consumer_ms,
        1000 * waited / std::max(batches, 1));
  }
  fs::remove_all(dir);
  return 0;
}
