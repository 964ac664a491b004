// Loader throughput from a warm page cache, prefetch off and on.
//   bench_loader [posts=2000] [preset=fixed:224] [batch=32] [epochs=3]
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
  configure_logging(LogConfig{LogLevel::kWarn});
  fs::path dir = fs::temp_directory_path() / fmt::format("mmaux-bench-load-{}", ::getpid());
  SynthOptions s;
  s.out = (dir / "raw").string();
  s.posts = posts;
  s.image_size = 96;
  data::write_synth_dataset(s);
  PreprocessOptions o;
  o.dataset = "csv";
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
    fmt::print("prefetch {} threads {}: {:.0f} samples/s ({} samples in {:.2f} s)\n", st.prefetch,
               st.threads, samples / sec, samples, sec);
  }
  fs::remove_all(dir);
  return 0;
}
