// Model benchmark (CPU): forward+backward samples/s, peak memory, FLOPs per sample and the share
// of a large matmul's GFLOP/s measured in the same run, per model and preset.
//
//   bench_model [--threads 2] [--batch 16] [--steps 6] [--presets tiny,small]
//               [--models ber-vit-concat,ber-vit-att,vilt]
//   bench_model --one-model vilt --one-preset small [--profile trace.json]   (one run, raw line)
//   bench_model --sizes 1        (parameters and forward FLOPs of every model and preset)
//
// Each (model, preset) runs in a child process (this binary with --one) so that its peak resident
// memory is its own. One step = encode + classify + cross entropy + backward (the main pass; the
// ITM pass of training is a second pass of the same size). FLOPs count matmuls and the patch
// convolution; forward + backward = 3 × forward.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>
#include <torch/autograd.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "mmaux/core/log.h"
#include "mmaux/core/strings.h"
#include "mmaux/model/config.h"
#include "mmaux/model/layers.h"
#include "mmaux/model/multimodal.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int threads = 2;
  int64_t batch = 16;
  int steps = 6;
  std::string presets = "tiny,small";
  std::string models = "ber-vit-concat,ber-vit-att,vilt";
  std::string one_model, one_preset;
  std::string profile;  ///< with --one-model: write a Chrome trace of the timed steps here
  bool sizes = false;   ///< --sizes 1: print parameters and FLOPs of every preset, no timing
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// GFLOP/s of a square float32 matmul large enough to reach the BLAS peak.
double matmul_gflops(int64_t n = 1024, double seconds = 1.0) {
  at::Tensor a = at::randn({n, n}), b = at::randn({n, n});
  at::matmul(a, b);  // warm-up
  int reps = 0;
  auto t0 = Clock::now();
  while (seconds_since(t0) < seconds) {
    at::matmul(a, b);
    ++reps;
  }
  return 2.0 * n * n * n * reps / seconds_since(t0) / 1e9;
}

int64_t text_length(const std::string& preset) {
  return preset == "tiny" ? 32 : preset == "small" ? 64 : preset == "vilt-b32" ? 40 : 128;
}

void run_one(const Args& args) {
  mmaux::ModelOptions o;
  o.name = args.one_model;
  o.preset = args.one_preset;
  auto model = mmaux::model::make_model(o, 4);
  model->train();
  mmaux::model::ModelConfig c = mmaux::model::preset_config(o.name, o.preset);
  const int64_t image = o.name == "vilt" ? c.vilt.image_size : c.vision.image_size;
  const int64_t vocab = o.name == "vilt" ? c.vilt.vocab_size : c.text.vocab_size;
  const int64_t b = args.batch, length = text_length(o.preset);
  mmaux::model::ModelInput in;
  in.input_ids = at::randint(1, vocab, {b, length}, at::kLong);
  in.attention_mask = at::ones({b, length}, at::kLong);
  in.pixels = at::randn({b, 3, image, image});
  in.pixel_mask = at::ones({b, image, image}, at::kLong);
  at::Tensor labels = at::randint(0, 4, {b}, at::kLong);
  auto step = [&] {
    for (auto& p : model->parameters()) p.mutable_grad() = at::Tensor();
    auto e = model->encode(in);
    at::Tensor loss = at::cross_entropy_loss(model->classify(e.fused), labels);
    loss.backward();
  };
  step();  // warm-up (allocations, first-touch)
  // The matmul peak is measured right before and after the model, in the same process, so that
  // a busy machine affects both figures alike.
  const double peak_before = matmul_gflops();
  auto t0 = Clock::now();
  {
    std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
    if (!args.profile.empty()) {
      profile = std::make_unique<torch::autograd::profiler::RecordProfile>(args.profile);
    }
    for (int i = 0; i < args.steps; ++i) step();
  }
  const double sps = args.steps * b / seconds_since(t0);
  const double peak = 0.5 * (peak_before + matmul_gflops());
  const double flops = mmaux::model::forward_flops(c, length);
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  std::printf("%s %s %lld %.6g %.4f %.1f %.2f\n", o.name.c_str(), o.preset.c_str(),
              static_cast<long long>(mmaux::model::count_parameters(*model)), flops, sps,
              usage.ru_maxrss / 1024.0, peak);
}

void print_sizes() {
  std::printf("%-15s %-13s %12s %8s %14s\n", "model", "preset", "parameters", "text L",
              "GFLOP/sample");
  for (const char* preset : {"tiny", "small", "ber-vit-base", "vilt-b32"}) {
    for (const char* name : {"ber-vit-concat", "ber-vit-att", "vilt"}) {
      mmaux::ModelOptions o;
      o.name = name;
      o.preset = preset;
      auto model = mmaux::model::make_model(o, 2);
      auto c = mmaux::model::preset_config(name, preset);
      const int64_t length = text_length(preset);
      std::printf("%-15s %-13s %12lld %8lld %14.3f\n", name, preset,
                  static_cast<long long>(mmaux::model::count_parameters(*model)),
                  static_cast<long long>(length), mmaux::model::forward_flops(c, length) / 1e9);
    }
  }
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--threads")
      a.threads = std::stoi(v);
    else if (k == "--batch")
      a.batch = std::stoll(v);
    else if (k == "--steps")
      a.steps = std::stoi(v);
    else if (k == "--presets")
      a.presets = v;
    else if (k == "--models")
      a.models = v;
    else if (k == "--one-model")
      a.one_model = v;
    else if (k == "--one-preset")
      a.one_preset = v;
    else if (k == "--profile")
      a.profile = v;
    else if (k == "--sizes")
      a.sizes = v == "1";
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse(argc, argv);
  at::set_num_threads(args.threads);
  mmaux::LogConfig quiet;
  quiet.level = mmaux::LogLevel::kWarn;
  mmaux::configure_logging(quiet);
  if (!args.one_model.empty()) {
    run_one(args);
    return 0;
  }
  if (args.sizes) {
    print_sizes();
    return 0;
  }
  char exe[4096] = {0};
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  const std::string self = n > 0 ? std::string(exe, n) : std::string(argv[0]);
  std::string load = "?";
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    char buf[64] = {0};
    if (std::fgets(buf, sizeof(buf), f)) load = mmaux::trim(buf);
    std::fclose(f);
  }
  std::printf(
      "threads %d, batch %lld, %d timed steps of encode + classify + CE + backward; "
      "load average %s\n",
      args.threads, static_cast<long long>(args.batch), args.steps, load.c_str());
  std::printf("%-15s %-8s %11s %13s %10s %9s %12s %8s %9s\n", "model", "preset", "parameters",
              "GFLOP/sample", "samples/s", "GFLOP/s", "matmul GF/s", "of peak", "peak MiB");
  for (const auto& preset : mmaux::split(args.presets, ',')) {
    for (const auto& name : mmaux::split(args.models, ',')) {
      std::string cmd = self + " --threads " + std::to_string(args.threads) + " --batch " +
                        std::to_string(args.batch) + " --steps " + std::to_string(args.steps) +
                        " --one-model " + name + " --one-preset " + preset;
      FILE* pipe = popen(cmd.c_str(), "r");
      char model[64] = {0}, pre[64] = {0};
      long long params = 0;
      double flops = 0, sps = 0, mib = 0, peak = 0;
      int got = pipe ? std::fscanf(pipe, "%63s %63s %lld %lf %lf %lf %lf", model, pre, &params,
                                   &flops, &sps, &mib, &peak)
                     : 0;
      if (pipe) pclose(pipe);
      if (got != 7) {
        std::printf("%-15s %-8s failed\n", name.c_str(), preset.c_str());
        continue;
      }
      const double achieved = 3.0 * flops * sps / 1e9;
      std::printf("%-15s %-8s %11lld %13.3f %10.1f %9.1f %12.1f %7.0f%% %9.0f\n", model, pre,
                  params, flops / 1e9, sps, achieved, peak, 100.0 * achieved / peak, mib);
    }
  }
  return 0;
}
