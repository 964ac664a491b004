// Model benchmark (CPU): forward+backward samples/s, peak memory, FLOPs per sample and the share
// of a large matmul's GFLOP/s measured in the same run, per model and preset.
//
//   bench_model [--threads 2] [--batch 16] [--steps 10] [--presets tiny,small]
//               [--models ber-vit-concat,ber-vit-att,vilt,mmbt,lxmert] [--no-dropout 1]
//   bench_model --one-model vilt --one-preset small [--profile trace.json]   (one run, raw line)
//   bench_model --sizes 1        (parameters and forward FLOPs of every model and preset)
//   BENCH_DEFAULT_MALLOC=1 bench_model ...  (glibc's default allocator settings, see
//   keep_freed_memory)
//
// Each (model, preset) runs in a child process (this binary with --one) so that its peak resident
// memory is its own. One step = encode + classify + cross entropy + backward (the main pass; the
// ITM pass of training is a second pass of the same size). FLOPs count matmuls and the patch
// convolution; forward + backward = 3 × forward. Every timed step is followed by a 0.25 s matmul
// measurement, and "of peak" is the median over steps of (step GFLOP/s ÷ the matmul GFLOP/s
// measured right after it), so that the neighbours' load on a shared machine cancels out.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>
#include <torch/autograd.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "mmaux/core/allocator.h"
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
  int steps = 10;
  std::string presets = "tiny,small";
  std::string models = "ber-vit-concat,ber-vit-att,vilt,mmbt,lxmert";
  std::string one_model, one_preset;
  std::string profile;         ///< with --one-model: write a Chrome trace of the timed steps here
  bool sizes = false;          ///< --sizes 1: print parameters and FLOPs of every preset, no timing
  bool no_dropout = false;     ///< --no-dropout 1: model in eval mode (how much dropout costs)
  bool compare_fused = false;  ///< --compare-fused 1: alternate fused and generic attention
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
  if (!std::getenv("BENCH_DEFAULT_MALLOC")) mmaux::keep_freed_memory();  // as mmaux train does
  mmaux::ModelOptions o;
  o.name = mmaux::parse_option<mmaux::ModelKind>("model", args.one_model);
  o.preset = mmaux::parse_option<mmaux::ModelPreset>("preset", args.one_preset);
  auto model = mmaux::model::make_model(o, 4);
  model->train();
  mmaux::model::ModelArchitecture c = mmaux::model::preset_config(o.name, o.preset);
  const bool vilt = o.name == mmaux::ModelKind::kVilt;
  const bool lxmert = o.name == mmaux::ModelKind::kLxmert;
  const int64_t image = vilt ? c.vilt.image_size : c.vision.image_size;
  const int64_t vocab = vilt ? c.vilt.vocab_size : lxmert ? c.lxmert.vocab_size : c.text.vocab_size;
  const int64_t b = args.batch, length = text_length(args.one_preset);
  mmaux::model::ModelInput in;
  in.input_ids = at::randint(1, vocab, {b, length}, at::kLong);
  in.attention_mask = at::ones({b, length}, at::kLong);
  in.pixels = at::randn({b, 3, image, image});
  in.pixel_mask = at::ones({b, image, image}, at::kLong);
  if (lxmert) {  // 36 regions, as the paper's extractor gives (what forward_flops counts)
    in.region_features = at::rand({b, 36, c.lxmert.visual_feat_dim});
    in.region_boxes = at::rand({b, 36, 4});
    in.region_mask = at::ones({b, 36}, at::kLong);
  }
  at::Tensor labels = at::randint(0, 4, {b}, at::kLong);
  if (args.no_dropout) model->eval();  // dropout off, the graph and backward unchanged
  auto step = [&] {
    for (auto& p : model->parameters()) p.mutable_grad() = at::Tensor();
    auto e = model->encode(in);
    at::Tensor loss = at::cross_entropy_loss(model->classify(e.fused), labels);
    loss.backward();
  };
  step();  // warm-up (allocations, first-touch)
  const double flops = mmaux::model::forward_flops(c, length);
  // This machine shares its cores with neighbours whose load changes by the second. Each timed
  // step is therefore paired with a short matmul measurement right after it, and the figures
  // are medians over the pairs: a slow spell slows both members of a pair alike.
  std::vector<double> step_seconds, peaks, fractions;
  std::vector<double> generic_fractions;  // --compare-fused: the steps run with generic attention
  {
    std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
    if (!args.profile.empty()) {
      profile = std::make_unique<torch::autograd::profiler::RecordProfile>(args.profile);
    }
    for (int i = 0; i < args.steps * (args.compare_fused ? 2 : 1); ++i) {
      const bool generic = args.compare_fused && i % 2 == 1;
      mmaux::model::set_fused_attention(!generic);
      auto t0 = Clock::now();
      step();
      const double seconds = seconds_since(t0);
      const double burst = args.profile.empty() ? matmul_gflops(1024, 0.25) : 1.0;
      const double fraction = 3.0 * flops * b / seconds / 1e9 / burst;
      if (generic) {
        generic_fractions.push_back(fraction);
        continue;
      }
      step_seconds.push_back(seconds);
      peaks.push_back(burst);
      fractions.push_back(fraction);
    }
    mmaux::model::set_fused_attention(true);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  };
  const double sps = b / median(step_seconds);
  const double peak = median(peaks);
  const double fraction = median(fractions);
  if (args.compare_fused) {
    std::fprintf(stderr, "%s %s: fused attention %.1f%% of peak, generic %.1f%% (medians)\n",
                 args.one_model.c_str(), args.one_preset.c_str(), 100 * fraction,
                 100 * median(generic_fractions));
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  std::printf("%s %s %lld %.6g %.4f %.1f %.2f %.4f\n", args.one_model.c_str(),
              args.one_preset.c_str(),
              static_cast<long long>(mmaux::model::count_parameters(*model)), flops, sps,
              usage.ru_maxrss / 1024.0, peak, fraction);
}

void print_sizes() {
  std::printf("%-15s %-13s %12s %8s %14s\n", "model", "preset", "parameters", "text L",
              "GFLOP/sample");
  for (const char* preset :
       {"tiny", "small", "ber-vit-base", "vilt-b32", "mmbt-base", "lxmert-base"}) {
    for (const char* name : {"ber-vit-concat", "ber-vit-att", "vilt", "mmbt", "lxmert"}) {
      mmaux::ModelOptions o;
      o.name = mmaux::parse_option<mmaux::ModelKind>("model", name);
      o.preset = mmaux::parse_option<mmaux::ModelPreset>("preset", preset);
      auto model = mmaux::model::make_model(o, 2);
      auto c = mmaux::model::preset_config(o.name, o.preset);
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
    else if (k == "--no-dropout")
      a.no_dropout = v == "1";
    else if (k == "--compare-fused")
      a.compare_fused = v == "1";
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
                        " --one-model " + name + " --one-preset " + preset +
                        (args.no_dropout ? " --no-dropout 1" : "");
      FILE* pipe = popen(cmd.c_str(), "r");
      char model[64] = {0}, pre[64] = {0};
      long long params = 0;
      double flops = 0, sps = 0, mib = 0, peak = 0, fraction = 0;
      int got = pipe ? std::fscanf(pipe, "%63s %63s %lld %lf %lf %lf %lf %lf", model, pre, &params,
                                   &flops, &sps, &mib, &peak, &fraction)
                     : 0;
      if (pipe) pclose(pipe);
      if (got != 8) {
        std::printf("%-15s %-8s failed\n", name.c_str(), preset.c_str());
        continue;
      }
      const double achieved = 3.0 * flops * sps / 1e9;
      std::printf("%-15s %-8s %11lld %13.3f %10.1f %9.1f %12.1f %7.0f%% %9.0f\n", model, pre,
                  params, flops / 1e9, sps, achieved, peak, 100.0 * fraction, mib);
    }
  }
  return 0;
}
