// Building a run: communicator, threads, device, data manifest, model, loss weights.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <sched.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "mmaux/core/allocator.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/log.h"
#include "mmaux/core/strings.h"
#include "mmaux/dist/runtime.h"
#include "mmaux/loss/cross_entropy.h"
#include "mmaux/model/config.h"
#include "mmaux/model/safetensors.h"
#include "session.h"

namespace mmaux::train {
namespace {

c10::Device pick_device(const RunConfig& c) {
  const DeviceChoice want = c.train.device;
  int gpus = dist::cuda_device_count();
  bool torch_cuda = at::hasCUDA();
  if (want == DeviceChoice::kCpu || (want == DeviceChoice::kAuto && (gpus == 0 || !torch_cuda)))
    return c10::Device(c10::kCPU);
  MMAUX_CHECK_CONFIG(gpus > 0 && torch_cuda,
                     "option 'train.device' = cuda, but {} (CUDA devices: {}, libtorch with CUDA: "
                     "{}); use --train.device cpu",
                     "no usable GPU is present", gpus, torch_cuda ? "yes" : "no");
  int local = c.topology.local_rank;
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(local % gpus));
}

void set_threads(const DistOptions& d, const dist::Topology& topology) {
  at::set_num_threads(dist::threads_per_rank(d, topology, std::thread::hardware_concurrency()));
  // mpirun binds each rank to one core by default (for 2 ranks or fewer): more threads than the
  // CPUs a rank may run on make the threads wait for each other.
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) < at::get_num_threads()) {
    log_warn("train",
             "{} intra-op threads but this process may only run on {} CPU(s): under mpirun add "
             "'--bind-to none' (or '--map-by slot:PE={}'), or lower dist.threads",
             at::get_num_threads(), CPU_COUNT(&cpus), at::get_num_threads());
  }
}

// An unlabeled data set has no class count: the model keeps the one of its directory when mmaux
// wrote it (eval's checkpoint), else it gets a one-class head that nothing trains (pretraining).
int model_classes(const RunConfig& c, const data::Manifest& m) {
  if (m.labelled()) return static_cast<int>(m.num_classes());
  const std::filesystem::path config = std::filesystem::path(c.model.dir) / "config.json";
  if (c.model.dir.empty() || !std::filesystem::exists(config)) return 1;
  const std::string text = read_whole_file(config.string());
  if (text.find("\"mmaux_model\"") == std::string::npos) return 1;
  return static_cast<int>(model::parse_model_config(text, config.string()).num_classes);
}

// What another implementation needs to start where this run starts (train.save-initial).
void save_initial_weights(const model::MultimodalModel& model, const at::Tensor& logit_scale,
                          const std::string& dir) {
  model::save_pretrained(model, dir);
  model::write_safetensors((std::filesystem::path(dir) / "itc.safetensors").string(),
                           {{"itc.logit_scale", logit_scale.detach()}});
  log_info("train", "wrote the initial weights to '{}' (train.save-initial)", dir);
}

}  // namespace

void require_labelled_data(const std::string& data_dir, const std::string& command) {
  if (!std::filesystem::exists(std::filesystem::path(data_dir) / "manifest.json")) return;
  MMAUX_CHECK_CONFIG(data::Manifest::load(data_dir, false).labelled(),
                     "{} needs labelled posts, but the data set in '{}' is unlabeled (its "
                     "manifest says \"labelled\": false): it is for 'mmaux pretrain' (and 'mmaux "
                     "eval' reports retrieval on it); preprocess posts with a label column for {}",
                     command, data_dir, command);
}

std::string parameter_summary(const model::MultimodalModel& model) {
  int64_t total = 0, trainable = 0;
  const std::vector<at::Tensor> params = model.parameters();
  for (const auto& p : params) {
    total += p.numel();
    if (p.requires_grad()) trainable += p.numel();
  }
  return fmt::format("{}: {} parameters ({} trainable) in {} tensors", name_of(model.kind()),
                     count_text(total), count_text(trainable), params.size());
}

Session::Session(const RunConfig& cfg,
                 const std::function<void(dist::Communicator&)>& on_communicator)
    : config(cfg) {
  validate(config);
  const LossOptions& l = config.loss;
  set_threads(config.dist, config.topology);
  keep_freed_memory();
  device = pick_device(config);
  if (config.train.bf16 && !device.is_cuda()) {
    log_warn("train", "train.bf16 is ignored on the CPU (bf16 autocast is for GPU runs)");
  }
  comm = dist::make_communicator(config.dist, device.is_cuda(), config.topology);
  if (on_communicator) on_communicator(*comm);
  manifest = data::Manifest::load(config.data.dir, true);
  objective = joint_loss_options(config, manifest.pad_id());

  // The same initial weights on every rank (GradSync also broadcasts rank 0's).
  at::manual_seed(config.train.seed);
  model = model::make_model(run_model_options(config), model_classes(config, manifest));
  model->to(device);
  const at::ScalarType dtype =
      config.train.dtype == TrainDtype::kFloat64 ? at::kDouble : at::kFloat;
  if (dtype != at::kFloat) model->to(dtype);
  logit_scale = at::full({}, l.logit_scale_init, at::TensorOptions().dtype(dtype).device(device))
                    .set_requires_grad(objective.weights.itc > 0);
  if (l.class_weights == ClassWeights::kBalanced && manifest.labelled()) {
    class_weights =
        loss::balanced_class_weights(manifest.class_counts("train")).to(device).to(dtype);
  }
  if (!config.train.save_initial.empty() && comm->rank() == 0) {
    save_initial_weights(*model, logit_scale, config.train.save_initial);
  }
  // Dropout differs per rank (as each GPU's would); the stream is part of the checkpoint.
  at::manual_seed(config.train.seed * 1000003ULL + static_cast<uint64_t>(comm->rank()) + 1);
  log_info("train", "{} on {}, {} rank(s), backend {}, {} thread(s) per rank",
           parameter_summary(*model), device.str(), comm->world_size(), comm->backend(),
           at::get_num_threads());
}

LossModel Session::loss_model() const {
  return LossModel{*model, logit_scale, class_weights, device};
}

dist::NamedTensors Session::trainable_named() const {
  dist::NamedTensors out;
  for (const auto& item : model->named_parameters()) out.emplace_back(item.key(), item.value());
  if (head) {
    for (const auto& item : head->named_parameters()) {
      out.emplace_back(head_prefix + item.key(), item.value());
    }
  }
  out.emplace_back("itc.logit_scale", logit_scale);
  return out;
}

dist::NamedTensors Session::buffers_named() const {
  dist::NamedTensors out;
  for (const auto& item : model->named_buffers()) out.emplace_back(item.key(), item.value());
  return out;
}

void copy_named(const dist::NamedTensors& named, const std::map<std::string, at::Tensor>& from,
                const std::string& what) {
  at::NoGradGuard no_grad;
  for (const auto& [name, t] : named) {
    auto it = from.find(name);
    MMAUX_CHECK_DATA(it != from.end(), "{} has no tensor '{}'", what, name);
    MMAUX_CHECK_DATA(it->second.sizes() == t.sizes(),
                     "{}: tensor '{}' has shape [{}], expected [{}]", what, name,
                     fmt::join(it->second.sizes(), ", "), fmt::join(t.sizes(), ", "));
    t.copy_(it->second);
  }
}

}  // namespace mmaux::train
