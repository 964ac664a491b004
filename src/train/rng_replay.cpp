#include "rng_replay.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <mutex>

namespace mmaux::train {
namespace {

at::Generator generator(c10::Device device) {
  if (device.is_cpu()) return at::detail::getDefaultCPUGenerator();
  return at::globalContext().defaultGenerator(device);
}

at::Tensor get_state(c10::Device device) {
  at::Generator gen = generator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_state(c10::Device device, const at::Tensor& state) {
  at::Generator gen = generator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace

RngReplay::RngReplay(c10::Device device)
    : cpu_start_(get_state(c10::Device(c10::kCPU))), cuda_(device.is_cuda()), device_(device) {}

void RngReplay::first_pass(int j) {
  set_state(c10::Device(c10::kCPU), cpu_start_);
  if (!cuda_) return;
  recorded_ = true;
  cuda_encoder_.resize(static_cast<size_t>(j) + 1);
  cuda_encoder_[static_cast<size_t>(j)] = get_state(device_);
}

void RngReplay::end_first_passes() {
  if (cuda_) cuda_tail_ = get_state(device_);
}

void RngReplay::replay(int j) {
  set_state(c10::Device(c10::kCPU), cpu_start_);
  if (recorded_) set_state(device_, cuda_encoder_.at(static_cast<size_t>(j)));
}

void RngReplay::after_encoder(int) {
  if (recorded_) set_state(device_, cuda_tail_);
}

void RngReplay::end_micro(int) {
  if (recorded_) cuda_tail_ = get_state(device_);
}

}  // namespace mmaux::train
