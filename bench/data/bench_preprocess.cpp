// Preprocessing throughput on the synthetic set with photo-sized JPEGs resized to 224x224.
//   bench_preprocess [posts=800] [width=600] [height=450] [preset=fixed:224]
// Prints posts/s for 1 and 2 worker threads, and the decode+resize rate alone.
#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <string>
#include <thread>

#include "mmaux/core/log.h"
#include "mmaux/data/image.h"
#include "mmaux/data/preprocess.h"
#include "mmaux/data/synth.h"
#include "readers.h"

namespace fs = std::filesystem;
using namespace mmaux;

int main(int argc, char** argv) {
  int posts = argc > 1 ? std::stoi(argv[1]) : 800;
  int width = argc > 2 ? std::stoi(argv[2]) : 600;
  int height = argc > 3 ? std::stoi(argv[3]) : 450;
  std::string preset = argc > 4 ? argv[4] : "fixed:224";
  configure_logging(LogConfig{LogLevel::kWarn});
  fs::path dir = fs::temp_directory_path() / fmt::format("mmaux-bench-pre-{}", ::getpid());
  SynthOptions s;
  s.out = (dir / "raw").string();
  s.posts = posts;
  s.image_size = width;
  s.image_height = height;
  s.png_fraction = 0;
  data::write_synth_dataset(s);
  uintmax_t bytes = 0;
  for (const auto& e : fs::directory_iterator(dir / "raw/images")) bytes += e.file_size();
  fmt::print("synthetic set: {} posts, {}x{} JPEG, {:.0f} KiB per image on average; preset {}\n",
             posts, width, height, bytes / 1024.0 / posts, preset);
  fmt::print("machine: {} hardware threads\n", std::thread::hardware_concurrency());

  // Decode + resize alone, one thread.
  auto p = data::ImagePreset::parse(preset);
  auto t0 = std::chrono::steady_clock::now();
  std::clock_t c0 = std::clock();
  int n = std::min(posts, 300);
  for (int i = 0; i < n; ++i) {
    data::load_image((dir / "raw/images" / fmt::format("s{:06d}.jpg", i)).string(), p);
  }
  double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
  fmt::print("decode+resize only, 1 thread: {:.0f} images/s wall, {:.0f} images per CPU-second\n",
             n / dt, n / cpu);

  for (int threads : {1, 2}) {
    PreprocessOptions o;
    o.dataset = DatasetKind::kCsv;
    o.raw = s.out;
    o.out = (dir / fmt::format("out{}", threads)).string();
    o.model = (dir / "raw/model").string();
    o.image_preset = preset;
    o.threads = threads;
    o.force = true;
    auto t1 = std::chrono::steady_clock::now();
    std::clock_t c1 = std::clock();
    auto report = data::run_preprocess(o, preprocessing::read_raw_dataset(o));
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    double cpu_sec = double(std::clock() - c1) / CLOCKS_PER_SEC;
    fmt::print(
        "preprocess, {} worker thread(s): {:.0f} posts/s wall ({:.0f} per thread), {:.0f} "
        "posts per CPU-second; {} written in {:.2f} s\n",
        threads, report.written / sec, report.written / sec / threads, report.written / cpu_sec,
        report.written, sec);
  }
  fs::remove_all(dir);
  return 0;
}
