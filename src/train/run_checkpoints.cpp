#include "run_checkpoints.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <mutex>

#include "mmaux/core/error.h"
#include "mmaux/core/log.h"
#include "mmaux/core/version.h"

namespace fs = std::filesystem;

namespace mmaux::train {

RunCheckpoints::RunCheckpoints(Session& session, AdamW& optimizer)
    : s_(session),
      opt_(optimizer),
      store_(session.config.train.out, session.config.train.keep_last) {}

std::string RunCheckpoints::resume_dir() {
  const ResumeFrom& resume = s_.config.train.resume;
  if (resume.mode == ResumeFrom::Mode::kPath) return resume.path;
  if (resume.mode == ResumeFrom::Mode::kNone) return "";
  // Rank 0 picks the checkpoint; every rank loads the one rank 0 names.
  auto found = store_.newest_valid();
  int64_t found_step = -1;
  if (found) found_step = CheckpointStore::load_state(*found).at("step").get<int64_t>();
  at::Tensor step = at::full({1}, found_step, at::kLong).to(s_.comm->device());
  s_.comm->broadcast(step, 0);
  found_step = step.cpu().item<int64_t>();
  if (found_step >= 0) return store_.dir_of(step_checkpoint_name(found_step));
  log_info("train", "no checkpoint in '{}': starting fresh", store_.checkpoints_dir());
  return "";
}

namespace {

void set_rng_state(const at::Tensor& state) {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

at::Tensor rng_state() {
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

}  // namespace

TrainState RunCheckpoints::restore(const std::string& dir) {
  CheckpointData d = CheckpointStore::load(dir, s_.comm->rank());
  TrainState state = train_state_from_json(d.state, dir + "/state.json");
  std::vector<std::string> differ = resume_conflicts(s_.config.options, state.config);
  MMAUX_CHECK_CONFIG(differ.empty(),
                     "cannot resume from '{}' with a different configuration; differing keys: {}. "
                     "Use the original options or a new train.out",
                     dir, fmt::join(differ, ", "));
  MMAUX_CHECK_CONFIG(state.data_fingerprint == s_.manifest.fingerprint(),
                     "cannot resume from '{}': it was trained on other data (data fingerprint {} "
                     "vs {} of '{}')",
                     dir, state.data_fingerprint, s_.manifest.fingerprint(), s_.config.data.dir);
  // train.out may differ from the checkpoint's run directory, but the best model so far lives in
  // the run directory: without it the run could not finish.
  const fs::path best = fs::path(s_.config.train.out) / "best" / "model.safetensors";
  MMAUX_CHECK_CONFIG(state.best_epoch < 0 || fs::exists(best),
                     "cannot resume from '{}': its best model so far (epoch {}) is not in "
                     "train.out '{}' ('{}' is missing); resume into the run directory the "
                     "checkpoint belongs to, or copy its best/ there",
                     dir, state.best_epoch + 1, s_.config.train.out, best.string());
  copy_named(s_.trainable_named(), d.model, fmt::format("checkpoint '{}'", dir));
  copy_named(s_.buffers_named(), d.model, fmt::format("checkpoint '{}'", dir));
  std::map<std::string, at::Tensor> opt_state;
  for (const auto& [k, v] : d.trainer) {
    if (k.rfind("opt.", 0) == 0) opt_state[k.substr(4)] = v;
  }
  opt_.load_state(opt_state);
  if (d.rng_state.defined()) {
    set_rng_state(d.rng_state);
  } else {
    log_warn("train",
             "checkpoint '{}' has no RNG state for rank {} (different world size): "
             "dropout draws differ from an uninterrupted run",
             dir, s_.comm->rank());
  }
  log_info("train", "resumed from '{}' at step {} (epoch {}, batch {})", dir, state.step,
           state.cursor_epoch, state.cursor_step);
  return state;
}

void RunCheckpoints::save(const std::string& name, const TrainState& progress) {
  TrainState state = progress;
  state.config = option_texts(s_.config.options);
  state.config_hash = config_hash(s_.config.options);
  state.data_fingerprint = s_.manifest.fingerprint();
  state.mmaux_version = version();
  CheckpointData d;
  d.name = name;
  for (const auto& [n, t] : s_.trainable_named()) d.model[n] = t.detach().cpu();
  for (const auto& [n, t] : s_.buffers_named()) d.model[n] = t.detach().cpu();
  for (const auto& [n, t] : opt_.state()) d.trainer["opt." + n] = t.cpu();
  d.rng_state = rng_state();
  d.config_ini = s_.config.config_ini;
  d.state = to_json(state);
  store_.save(d, *s_.comm);
  log_info("checkpoint", "wrote '{}' (step {})", store_.dir_of(name), state.step);
}

}  // namespace mmaux::train
