// Training-step throughput on a GPU: samples/s and model FLOP utilisation (MFU) of mmaux's
// models under bf16 autocast, next to a measured bf16 matmul peak. Prints one JSON object per
// model (the side-by-side with plain PyTorch is bench/model/python_loop.py --device cuda).
//
//   bench_gpu_model [--device cuda] [--bf16 1] [--steps 30] [--warmup 5] [--peak-tflops 989]
//                   [--runs ber-vit-concat:tiny:256,ber-vit-concat:small:256,
//                           ber-vit-concat:ber-vit-base:128,vilt:vilt-b32:128]
//
// One step = encode + classify + cross entropy under AutocastScope, backward, and mmaux's AdamW
// step (what python_loop.py --adamw 1 does). Random weights, random inputs made on the device,
// train mode (the presets' dropout). Timing: `warmup` steps, a device synchronisation, `steps`
// steps, a synchronisation; the mean step time over the timed steps. FLOPs per sample are
// 3 × mmaux::model::forward_flops at the run's text length (the formula python_loop.py uses).
// MFU = model FLOP/s ÷ `peak-tflops` (the H200's dense bf16 peak: 989 TFLOP/s nominal) and ÷ the
// matmul rate measured here (8192³ bf16 products on the GPU; 1024³ float32 on the CPU). With
// --device cpu it runs as a dry run of the same code (float32, no autocast).
#include <ATen/ATen.h>
#include <torch/cuda.h>
#include <torch/version.h>

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
#include "mmaux/train/autocast.h"
#include "mmaux/train/optimizer.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string device = "cuda";
  bool bf16 = true;
  int steps = 30, warmup = 5;
  double peak_tflops = 989;
  std::string runs =
      "ber-vit-concat:tiny:256,ber-vit-concat:small:256,ber-vit-concat:ber-vit-base:128,"
      "vilt:vilt-b32:128";
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void sync(const c10::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index());
}

/// TFLOP/s of square matmuls in the benchmark's precision, measured for about a second.
double matmul_tflops(const c10::Device& d, bool bf16) {
  const int64_t n = d.is_cuda() ? 8192 : 1024;
  auto opts = at::TensorOptions().device(d).dtype(d.is_cuda() && bf16 ? at::kBFloat16 : at::kFloat);
  at::Tensor a = at::randn({n, n}, opts), b = at::randn({n, n}, opts);
  for (int i = 0; i < 3; ++i) at::matmul(a, b);
  sync(d);
  int reps = 0;
  auto t0 = Clock::now();
  while (seconds_since(t0) < (d.is_cuda() ? 1.0 : 0.2)) {
    for (int i = 0; i < 10; ++i) at::matmul(a, b);
    sync(d);
    reps += 10;
  }
  return 2.0 * n * n * n * reps / seconds_since(t0) / 1e12;
}

int64_t text_length(const std::string& preset) {
  return preset == "tiny" ? 32 : preset == "small" ? 64 : preset == "vilt-b32" ? 40 : 128;
}

void run_one(const Args& args, const c10::Device& device, const std::string& name,
             const std::string& preset, int64_t batch, double peak_measured) {
  mmaux::ModelOptions o;
  o.name = mmaux::parse_option<mmaux::ModelKind>("model.name", name);
  o.preset = mmaux::parse_option<mmaux::ModelPreset>("model.preset", preset);
  at::manual_seed(0);
  auto model = mmaux::model::make_model(o, 4);
  model->to(device);
  model->train();
  const mmaux::model::ModelArchitecture c = mmaux::model::preset_config(o.name, o.preset);
  const bool vilt = name == "vilt";
  const int64_t image = vilt ? c.vilt.image_size : c.vision.image_size;
  const int64_t vocab = vilt ? c.vilt.vocab_size : c.text.vocab_size;
  const int64_t length = text_length(preset);
  auto on = at::TensorOptions().device(device);
  mmaux::model::ModelInput in{at::randint(1, vocab, {batch, length}, on.dtype(at::kLong)),
                              at::ones({batch, length}, on.dtype(at::kLong)),
                              at::randn({batch, 3, image, image}, on.dtype(at::kFloat)),
                              at::ones({batch, image, image}, on.dtype(at::kLong))};
  at::Tensor labels = at::randint(0, 4, {batch}, on.dtype(at::kLong));
  mmaux::train::ParamGroup group{"decay", 0.01, {}, {}};
  for (const auto& p : model->named_parameters()) {
    group.names.push_back(p.key());
    group.params.push_back(p.value());
  }
  mmaux::train::AdamW adamw({group});
  const bool autocast = args.bf16 && device.is_cuda();
  double last_loss = 0;
  auto step = [&](bool read_loss) {
    adamw.zero_grad();
    at::Tensor loss;
    {
      mmaux::train::AutocastScope scope(autocast);
      auto e = model->encode(in);
      loss = at::cross_entropy_loss(model->classify(e.fused), labels);
    }
    loss.backward();
    adamw.step(1e-5);
    if (read_loss) last_loss = loss.item<double>();
  };
  for (int i = 0; i < args.warmup; ++i) step(false);
  sync(device);
  auto t0 = Clock::now();
  for (int i = 0; i < args.steps; ++i) step(i + 1 == args.steps);
  sync(device);
  const double seconds = seconds_since(t0) / args.steps;
  const double flops = 3.0 * mmaux::model::forward_flops(c, length);  // per sample
  const double tflops = flops * batch / seconds / 1e12;
  std::printf(
      "{\"impl\": \"mmaux\", \"model\": \"%s\", \"preset\": \"%s\", \"batch\": %lld, "
      "\"text_length\": %lld, \"device\": \"%s\", \"bf16_autocast\": %s, \"steps\": %d, "
      "\"step_ms\": %.4f, \"samples_per_s\": %.2f, \"train_flops_per_sample\": %.10g, "
      "\"model_tflops\": %.3f, \"mfu_nominal\": %.4f, \"mfu_measured\": %.4f, "
      "\"matmul_peak_tflops\": %.2f, \"parameters\": %lld, \"last_loss\": %.6f}\n",
      name.c_str(), preset.c_str(), static_cast<long long>(batch), static_cast<long long>(length),
      device.str().c_str(), autocast ? "true" : "false", args.steps, 1e3 * seconds, batch / seconds,
      flops, tflops, tflops / args.peak_tflops, tflops / peak_measured, peak_measured,
      static_cast<long long>(mmaux::model::count_parameters(*model)), last_loss);
  std::fflush(stdout);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--device")
      a.device = v;
    else if (k == "--bf16")
      a.bf16 = v == "1";
    else if (k == "--steps")
      a.steps = std::max(1, std::atoi(v.c_str()));
    else if (k == "--warmup")
      a.warmup = std::max(0, std::atoi(v.c_str()));
    else if (k == "--peak-tflops")
      a.peak_tflops = std::atof(v.c_str());
    else if (k == "--runs")
      a.runs = v;
    else {
      std::fprintf(stderr, "bench_gpu_model: unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  mmaux::LogConfig quiet;
  quiet.level = mmaux::LogLevel::kWarn;
  mmaux::configure_logging(quiet);
  const c10::Device device(args.device);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    std::fprintf(stderr, "bench_gpu_model: --device %s, but libtorch sees no CUDA device\n",
                 args.device.c_str());
    return 1;
  }
  const double peak = matmul_tflops(device, args.bf16);
  std::fprintf(stderr, "bench_gpu_model: libtorch %d.%d, %s, measured matmul peak %.1f TFLOP/s\n",
               TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, device.str().c_str(), peak);
  int failed = 0;
  for (const std::string& run : mmaux::split(args.runs, ',')) {
    const std::vector<std::string> f = mmaux::split(run, ':');
    if (f.size() != 3) {
      std::fprintf(stderr, "bench_gpu_model: run '%s' is not MODEL:PRESET:BATCH\n", run.c_str());
      return 2;
    }
    try {
      run_one(args, device, f[0], f[1], std::atoll(f[2].c_str()), peak);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_gpu_model: %s failed: %s\n", run.c_str(), e.what());
      std::printf("{\"impl\": \"mmaux\", \"model\": \"%s\", \"preset\": \"%s\", \"error\": true}\n",
                  f[0].c_str(), f[1].c_str());
      ++failed;
    }
  }
  return failed ? 1 : 0;
}
