#include "mmaux/train/checkpoint.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/hash.h"
#include "mmaux/core/log.h"
#include "mmaux/model/safetensors.h"
#include "mmaux/train/run_files.h"

namespace fs = std::filesystem;

namespace mmaux::train {
namespace {

constexpr int kCheckpointSchema = 1;
const char* kFiles[] = {"model.safetensors", "trainer.safetensors", "config.ini"};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MMAUX_CHECK_DATA(in.good(), "cannot read '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void save_tensors(const std::string& path, const TensorMap& tensors) {
  model::write_safetensors(path, {tensors.begin(), tensors.end()});
}

TensorMap load_tensors(const std::string& path) {
  auto all = model::SafetensorsReader(path).load_all();
  return TensorMap(all.begin(), all.end());
}

int64_t step_of(const std::string& name) {
  if (name.rfind("step-", 0) != 0) return -1;
  try {
    return std::stoll(name.substr(5));
  } catch (...) {
    return -1;
  }
}

}  // namespace

std::string step_checkpoint_name(int64_t step) { return fmt::format("step-{:08d}", step); }

CheckpointStore::CheckpointStore(std::string run_dir, int keep_last)
    : run_dir_(std::move(run_dir)),
      ckpt_dir_((fs::path(run_dir_) / "checkpoints").string()),
      keep_last_(keep_last) {}

std::string CheckpointStore::dir_of(const std::string& name) const {
  return (fs::path(ckpt_dir_) / name).string();
}

void CheckpointStore::save(const CheckpointData& data, dist::Communicator& comm) {
  // 1. Every rank's RNG state to rank 0 (as int64: the communicators carry no uint8; on the
  //    communicator's device: NCCL moves CUDA tensors only).
  at::Tensor rng = data.rng_state.to(at::kLong).contiguous();
  at::Tensor all_rng = comm.all_gather(rng.reshape({1, -1}).to(comm.device())).cpu().to(at::kByte);
  if (comm.rank() == 0) {
    fs::create_directories(ckpt_dir_);
    const std::string tmp = dir_of(".tmp-" + data.name);
    try {
      write_staged(data, all_rng, comm.world_size(), tmp);
    } catch (...) {
      // A half-written copy must not keep the disk full: remove it, then report the failure.
      std::error_code ec;
      fs::remove_all(tmp, ec);
      throw;
    }
    // 4. Keep the newest keep_last step checkpoints.
    prune(data.name);
  }
  // 5. Nobody goes on before the checkpoint is complete.
  comm.barrier();
}

void CheckpointStore::write_staged(const CheckpointData& data, const at::Tensor& all_rng,
                                   int world_size, const std::string& tmp) {
  // 2. Write into a temporary directory; state.json last.
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  TensorMap trainer = data.trainer;
  for (int r = 0; r < world_size; ++r) {
    trainer[fmt::format("rng.rank{}", r)] = all_rng[r].contiguous();
  }
  save_tensors((fs::path(tmp) / "model.safetensors").string(), data.model);
  save_tensors((fs::path(tmp) / "trainer.safetensors").string(), trainer);
  // write_file_atomic checks the flush and the close: a full disk is reported, not recorded as a
  // short file with its checksum.
  write_file_atomic((fs::path(tmp) / "config.ini").string(), data.config_ini);
  nlohmann::json state = data.state;
  state["schema"] = kCheckpointSchema;
  state["name"] = data.name;
  state["world_size"] = world_size;
  nlohmann::json files = nlohmann::json::object();
  for (const char* f : kFiles) {
    std::string p = (fs::path(tmp) / f).string();
    fsync_path(p);
    files[f] = {{"bytes", static_cast<int64_t>(fs::file_size(p))}, {"sha256", sha256_file(p)}};
  }
  state["files"] = files;
  write_file_atomic((fs::path(tmp) / "state.json").string(), state.dump(2));
  // 3. Publish: until this rename the previous checkpoint of this name stays intact.
  replace_directory(tmp, dir_of(data.name));
}

void CheckpointStore::prune(const std::string& keep) {
  std::vector<std::pair<int64_t, std::string>> steps;
  for (const auto& e : fs::directory_iterator(ckpt_dir_)) {
    std::string name = e.path().filename().string();
    int64_t s = step_of(name);
    if (s >= 0 && name != keep) steps.emplace_back(s, name);
  }
  std::sort(steps.rbegin(), steps.rend());
  // The one just written counts as one of the kept.
  for (size_t i = static_cast<size_t>(std::max(0, keep_last_ - 1)); i < steps.size(); ++i) {
    fs::remove_all(dir_of(steps[i].second));
  }
}

std::string CheckpointStore::validate(const std::string& dir) {
  std::string state_path = (fs::path(dir) / "state.json").string();
  if (!fs::exists(state_path)) return "state.json is missing (incomplete checkpoint)";
  nlohmann::json state;
  try {
    state = nlohmann::json::parse(read_text(state_path));
  } catch (const std::exception& e) {
    return fmt::format("state.json does not parse: {}", e.what());
  }
  if (state.value("schema", 0) != kCheckpointSchema) {
    return fmt::format("schema {} (this build reads {})", state.value("schema", 0),
                       kCheckpointSchema);
  }
  if (!state.contains("files")) return "state.json lists no files";
  for (const auto& [name, info] : state["files"].items()) {
    std::string p = (fs::path(dir) / name).string();
    if (!fs::exists(p)) return fmt::format("{} is missing", name);
    auto bytes = static_cast<int64_t>(fs::file_size(p));
    if (bytes != info.value("bytes", int64_t{-1})) {
      return fmt::format("{} has {} bytes, expected {} (truncated?)", name, bytes,
                         info.value("bytes", int64_t{-1}));
    }
    if (sha256_file(p) != info.value("sha256", std::string())) {
      return fmt::format("{} has a wrong SHA-256 (altered or corrupt)", name);
    }
  }
  return "";
}

nlohmann::json CheckpointStore::load_state(const std::string& dir) {
  return nlohmann::json::parse(read_text((fs::path(dir) / "state.json").string()));
}

CheckpointData CheckpointStore::load(const std::string& dir, int rank) {
  std::string problem = validate(dir);
  MMAUX_CHECK_DATA(problem.empty(), "checkpoint '{}' is not valid: {}", dir, problem);
  CheckpointData d;
  d.name = fs::path(dir).filename().string();
  d.state = nlohmann::json::parse(read_text((fs::path(dir) / "state.json").string()));
  d.config_ini = read_text((fs::path(dir) / "config.ini").string());
  d.model = load_tensors((fs::path(dir) / "model.safetensors").string());
  d.trainer = load_tensors((fs::path(dir) / "trainer.safetensors").string());
  auto it = d.trainer.find(fmt::format("rng.rank{}", rank));
  if (it != d.trainer.end()) d.rng_state = it->second;
  for (auto i = d.trainer.begin(); i != d.trainer.end();) {
    i = i->first.rfind("rng.rank", 0) == 0 ? d.trainer.erase(i) : std::next(i);
  }
  return d;
}

std::optional<std::string> CheckpointStore::newest_valid() const {
  if (!fs::exists(ckpt_dir_)) return std::nullopt;
  std::vector<std::pair<int64_t, std::string>> found;
  for (const auto& e : fs::directory_iterator(ckpt_dir_)) {
    std::string name = e.path().filename().string();
    int64_t s = step_of(name);
    if (s >= 0) found.emplace_back(s, name);
  }
  std::sort(found.rbegin(), found.rend());
  for (const auto& [step, name] : found) {
    std::string problem = validate(dir_of(name));
    if (problem.empty()) return dir_of(name);
    log_warn("checkpoint", "skipping checkpoint '{}': {}", dir_of(name), problem);
  }
  return std::nullopt;
}

}  // namespace mmaux::train
