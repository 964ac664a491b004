// The training loop: steps, gradient synchronisation, skips of non-finite steps, stop signals,
// checkpoints, epoch-end validation, the final test evaluation and results.json.
#include "mmaux/train/trainer.h"

#include <ATen/ATen.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/hash.h"
#include "mmaux/core/log.h"
#include "mmaux/core/version.h"
#include "mmaux/data/loader.h"
#include "mmaux/loss/itc.h"
#include "mmaux/model/safetensors.h"
#include "mmaux/train/checkpoint.h"
#include "mmaux/train/run_files.h"
#include "mmaux/train/signals.h"
#include "session.h"

namespace fs = std::filesystem;

namespace mmaux::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string loss_setting(const LossOptions& l) {
  if (l.itc > 0 && l.itm > 0) return "itc+itm";
  if (l.itc > 0) return "itc";
  if (l.itm > 0) return "itm";
  return "ce";
}

// SHA-256 over "key=value\n" of the options that decide the result.
std::string config_hash(const std::map<std::string, std::string>& values) {
  std::string text;
  for (const auto& [k, v] : values)
    if (!config_key_may_change_on_resume(k)) text += k + "=" + v + "\n";
  return sha256_hex(text).substr(0, 16);
}

struct Progress {
  int64_t step = 0;        // optimizer steps done
  int64_t epoch = 0;       // current epoch
  data::Cursor cursor;     // next batch
  int64_t bad_in_row = 0;  // non-finite steps in a row
  int64_t bad_total = 0;
  int64_t degenerate = 0;  // ITM rows sampled uniformly
  int best_epoch = -1;
  double best_value = 0;
};

// A progress line rewritten in place only for one process on a terminal: mpirun hands its
// ranks a pseudo-terminal even when its own output goes to a file, so distributed runs log lines.
bool interactive(const dist::Communicator& comm) {
  return isatty(STDOUT_FILENO) && comm.world_size() == 1;
}

class Trainer {
 public:
  explicit Trainer(const RunConfig& config)
      : s_(config), store_(config.train.out, config.train.keep_last) {}
  int run();

 private:
  void setup();
  void resume(const std::string& dir);
  int64_t total_steps() const;
  bool train_epoch();  // false: stopped by a signal
  bool optimizer_step(double loss_value);
  void log_step(const StepLosses& l, double lr, double samples_per_s);
  void end_of_epoch();
  void save_checkpoint(const std::string& name);
  void save_best(const EvalResult& r);
  void finish();
  bool stop_agreed(bool bad_local, bool* bad_global);

  Session s_;
  CheckpointStore store_;
  std::unique_ptr<data::Loader> loader_;
  std::unique_ptr<AdamW> opt_;
  std::unique_ptr<dist::GradSync> sync_;
  Progress p_;
  std::string run_dir_;
  Clock::time_point start_ = Clock::now();
  double train_seconds_ = 0;
  int64_t samples_ = 0;
  bool stopped_ = false;
};

int64_t Trainer::total_steps() const {
  int64_t per_epoch = loader_->steps_per_epoch() / s_.config.train.accumulate;
  int64_t all = per_epoch * s_.config.train.epochs;
  return s_.config.train.max_steps > 0 ? std::min(all, s_.config.train.max_steps) : all;
}

void Trainer::setup() {
  const RunConfig& c = s_.config;
  run_dir_ = c.train.out;
  if (s_.comm->rank() == 0) fs::create_directories(run_dir_);
  s_.comm->barrier();
  data::LoaderOptions lo;
  lo.split = "train";
  lo.global_batch_size = c.data.batch_size;
  lo.drop_last = c.data.drop_last;
  lo.shuffle = true;
  lo.seed = c.train.seed;
  lo.prefetch = c.data.prefetch;
  lo.threads = c.data.loader_threads;
  lo.rank = s_.comm->rank();
  lo.world_size = s_.comm->world_size();
  loader_ = std::make_unique<data::Loader>(s_.manifest, lo);
  MMAUX_CHECK_CONFIG(loader_->steps_per_epoch() >= c.train.accumulate,
                     "the training split has {} samples: fewer than one optimizer step of "
                     "data.batch-size {} x train.accumulate {}",
                     loader_->split_size(), c.data.batch_size, c.train.accumulate);
  MMAUX_CHECK_CONFIG(c.data.batch_size >= s_.comm->world_size(),
                     "data.batch-size {} is smaller than the world size {}: every rank needs rows",
                     c.data.batch_size, s_.comm->world_size());
  bool paper = c.train.paper;
  opt_ = std::make_unique<AdamW>(make_param_groups(s_.trainable_named(), c.train.weight_decay,
                                                   paper || c.train.decay_norm_and_bias));

  std::string resume_dir;
  if (c.train.resume == "auto") {
    // Rank 0 picks the checkpoint; every rank loads the one rank 0 names.
    auto found = store_.newest_valid();
    int64_t found_step = -1;
    if (found) found_step = CheckpointStore::load_state(*found).at("step").get<int64_t>();
    at::Tensor step = at::full({1}, found_step, at::kLong).to(s_.comm->device());
    s_.comm->broadcast(step, 0);
    found_step = step.cpu().item<int64_t>();
    if (found_step >= 0) resume_dir = store_.dir_of(step_checkpoint_name(found_step));
  } else if (c.train.resume != "none") {
    resume_dir = c.train.resume;
  }
  if (!resume_dir.empty())
    resume(resume_dir);
  else if (c.train.resume == "auto")
    log_info("train", "no checkpoint in '{}': starting fresh", store_.checkpoints_dir());

  dist::NamedTensors buffers;
  for (const auto& b : s_.model->named_buffers()) buffers.emplace_back(b.key(), b.value());
  sync_ = std::make_unique<dist::GradSync>(s_.trainable_named(), buffers, s_.comm, c.dist);
  install_stop_handlers();
  if (s_.comm->rank() == 0) {
    log_info("config", "effective configuration:\n{}", c.config_ini);
  }
}

void Trainer::resume(const std::string& dir) {
  CheckpointData d = CheckpointStore::load(dir, s_.comm->rank());
  // The checkpoint records the options it was trained with, by dotted name.
  std::map<std::string, std::string> stored =
      d.state.value("config", std::map<std::string, std::string>{});
  std::vector<std::string> differ;
  for (const auto& [k, v] : s_.config.config_values) {
    if (config_key_may_change_on_resume(k)) continue;
    auto it = stored.find(k);
    if (it == stored.end() || it->second != v) {
      differ.push_back(
          fmt::format("{} ({} -> {})", k, it == stored.end() ? "<absent>" : it->second, v));
    }
  }
  MMAUX_CHECK_CONFIG(differ.empty(),
                     "cannot resume from '{}' with a different configuration; differing keys: {}. "
                     "Use the original options or a new train.out",
                     dir, fmt::join(differ, ", "));
  std::string data_fp = d.state.value("data_fingerprint", std::string());
  MMAUX_CHECK_CONFIG(data_fp == s_.manifest.fingerprint(),
                     "cannot resume from '{}': it was trained on other data (data fingerprint {} "
                     "vs {} of '{}')",
                     dir, data_fp, s_.manifest.fingerprint(), s_.config.data.dir);
  copy_named(s_.trainable_named(), d.model, fmt::format("checkpoint '{}'", dir));
  std::map<std::string, at::Tensor> opt_state;
  for (const auto& [k, v] : d.trainer) {
    if (k.rfind("opt.", 0) == 0) opt_state[k.substr(4)] = v;
  }
  opt_->load_state(opt_state);
  const auto& st = d.state;
  p_.step = st.at("step").get<int64_t>();
  p_.cursor = data::Cursor{st.at("cursor").at("epoch").get<int64_t>(),
                           st.at("cursor").at("step").get<int64_t>()};
  p_.epoch = p_.cursor.epoch;
  p_.bad_total = st.value("bad_steps", int64_t{0});
  p_.degenerate = st.value("itm_degenerate_rows", int64_t{0});
  p_.best_epoch = st.value("best_epoch", -1);
  p_.best_value = st.value("best_value", 0.0);
  samples_ = st.value("samples", int64_t{0});
  if (d.rng_state.defined()) {
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(d.rng_state);
  } else {
    log_warn("train",
             "checkpoint '{}' has no RNG state for rank {} (different world size): "
             "dropout draws differ from an uninterrupted run",
             dir, s_.comm->rank());
  }
  log_info("train", "resumed from '{}' at step {} (epoch {}, batch {})", dir, p_.step,
           p_.cursor.epoch, p_.cursor.step);
}

bool Trainer::stop_agreed(bool bad_local, bool* bad_global) {
  // One all-reduce per step carries both flags: a non-finite step and a stop signal.
  at::Tensor flags =
      at::tensor({bad_local ? int64_t{1} : int64_t{0}, int64_t{stop_signal()}}, at::kLong)
          .to(s_.comm->device());
  s_.comm->all_reduce(flags, dist::ReduceOp::kMax);
  flags = flags.cpu();
  *bad_global = flags[0].item<int64_t>() != 0;
  return flags[1].item<int64_t>() != 0;
}

// Clips, checks and applies the averaged gradients. Returns false when the step was skipped.
bool Trainer::optimizer_step(double loss_value) {
  const TrainOptions& t = s_.config.train;
  double sq = 0;
  std::vector<at::Tensor> grads;
  for (const auto& g : opt_->groups())
    for (const auto& p : g.params)
      if (p.grad().defined()) grads.push_back(p.grad());
  if (!grads.empty()) {
    // One call for every gradient (per-tensor norms accumulate in double on the CPU), one sum,
    // one host read: not three ops and a device sync per parameter.
    std::vector<at::Tensor> norms = at::_foreach_norm(grads);
    for (auto& n : norms) n = n.to(at::kDouble);  // the logit scale may differ in dtype
    sq = at::stack(norms).pow(2).sum().item<double>();
  }
  double norm = std::sqrt(sq);
  bool bad_local = !std::isfinite(loss_value) || !std::isfinite(norm);
  bool bad = false;
  bool stop = stop_agreed(bad_local, &bad);
  if (bad) {
    ++p_.bad_in_row;
    ++p_.bad_total;
    log_warn("train",
             "step {}: non-finite loss or gradients, step skipped ({} in a row, {} in all)",
             p_.step, p_.bad_in_row, p_.bad_total);
    MMAUX_CHECK(p_.bad_in_row < t.max_bad_steps,
                "{} non-finite steps in a row (train.max-bad-steps = {}): the run diverged; "
                "lower train.lr or enable train.clip-norm",
                p_.bad_in_row, t.max_bad_steps);
  } else {
    p_.bad_in_row = 0;
    if (t.clip_norm > 0 && norm > t.clip_norm) {
      at::NoGradGuard ng;
      for (auto& g : grads) g.mul_(t.clip_norm / (norm + 1e-6));
    }
    double lr = scheduled_lr(t.schedule, t.lr, t.warmup, p_.step, total_steps());
    opt_->step(lr, &sync_->row_masks());
    if (s_.config.loss.clamp_logit_scale) {
      at::NoGradGuard ng;
      s_.logit_scale.clamp_(0, loss::kMaxLogitScale);
    }
  }
  opt_->zero_grad();
  return !stop;
}

void Trainer::log_step(const StepLosses& l, double lr, double samples_per_s) {
  at::Tensor v =
      at::tensor({l.total.item<double>(), l.ce, l.itc, l.itm}, at::kDouble).to(s_.comm->device());
  s_.comm->all_reduce(v, dist::ReduceOp::kAvg);
  v = v.cpu();
  if (s_.comm->rank() != 0) return;
  nlohmann::json rec = {{"kind", "step"},
                        {"step", p_.step},
                        {"epoch", p_.epoch},
                        {"lr", lr},
                        {"loss", v[0].item<double>()},
                        {"ce", v[1].item<double>()},
                        {"itc", v[2].item<double>()},
                        {"itm", v[3].item<double>()},
                        {"logit_scale", s_.logit_scale.item<double>()},
                        {"samples_per_s", samples_per_s},
                        {"skipped_steps", p_.bad_total}};
  append_jsonl((fs::path(run_dir_) / "metrics.jsonl").string(), rec);
  int64_t total = total_steps();
  double eta = samples_per_s > 0 ? (total - p_.step) * s_.config.data.batch_size *
                                       s_.config.train.accumulate / samples_per_s
                                 : 0;
  std::string line = fmt::format(
      "epoch {}/{} step {}/{} | {:.1f} samples/s | loss {:.4f} (ce {:.4f} itc {:.4f} itm {:.4f}) "
      "| eta {:.0f}s",
      p_.epoch + 1, s_.config.train.epochs, p_.step, total, samples_per_s, v[0].item<double>(),
      v[1].item<double>(), v[2].item<double>(), v[3].item<double>(), eta);
  if (interactive(*s_.comm)) {
    fmt::print("\r{}\x1b[K", line);
    std::fflush(stdout);
  } else {
    log_info("train", "{}", line);
  }
}

bool Trainer::train_epoch() {
  const TrainOptions& t = s_.config.train;
  loader_->start_epoch(p_.cursor.epoch, p_.cursor.step);
  p_.epoch = p_.cursor.epoch;
  const int a = t.accumulate;
  auto window = Clock::now();
  int64_t window_samples = 0;
  while (p_.step < total_steps()) {
    auto t0 = Clock::now();
    StepLosses last;
    double loss_value = 0;
    int k = 0;
    for (; k < a; ++k) {
      std::optional<data::Batch> b = loader_->next();
      if (!b) break;
      sync_->set_sync(k == a - 1);
      StepLosses l = s_.compute_losses(*b, p_.step);
      if (t.inject_nonfinite_from > 0 && p_.step + 1 >= t.inject_nonfinite_from &&
          s_.comm->rank() == 0) {
        l.total = l.total * std::numeric_limits<double>::quiet_NaN();
      }
      (l.total / a).backward();
      loss_value += l.total.item<double>() / a;
      p_.degenerate += l.degenerate;
      window_samples += b->global_batch_size;
      last = l;
    }
    if (k < a) {  // end of the epoch; micro-batches of an incomplete window are dropped
      opt_->zero_grad();
      p_.cursor = data::Cursor{p_.epoch + 1, 0};
      return true;
    }
    sync_->finish();
    bool go_on = optimizer_step(loss_value);
    train_seconds_ += seconds_since(t0);
    ++p_.step;
    samples_ += static_cast<int64_t>(a) * s_.config.data.batch_size;
    p_.cursor = loader_->cursor();
    sync_->check_divergence(p_.step);
    if (p_.step % t.log_every == 0 || !go_on) {
      double lr = scheduled_lr(t.schedule, t.lr, t.warmup, p_.step - 1, total_steps());
      log_step(last, lr, window_samples / std::max(1e-9, seconds_since(window)));
      window = Clock::now();
      window_samples = 0;
    }
    if (!go_on) {
      log_info("train", "stop signal received: checkpointing at step {} and exiting with code {}",
               p_.step, static_cast<int>(kExitRequeue));
      save_checkpoint(step_checkpoint_name(p_.step));
      return false;
    }
    if (t.checkpoint_every > 0 && p_.step % t.checkpoint_every == 0) {
      save_checkpoint(step_checkpoint_name(p_.step));
    }
  }
  // train.max-steps reached inside the epoch: it counts as the last epoch.
  p_.cursor = data::Cursor{p_.epoch + 1, 0};
  return true;
}

void Trainer::save_checkpoint(const std::string& name) {
  CheckpointData d;
  d.name = name;
  for (const auto& [n, t] : s_.trainable_named()) d.model[n] = t.detach().cpu();
  for (const auto& [n, t] : opt_->state()) d.trainer["opt." + n] = t.cpu();
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    d.rng_state = gen.get_state();
  }
  d.config_ini = s_.config.config_ini;
  d.state = {{"step", p_.step},
             {"epoch", p_.epoch},
             {"cursor", {{"epoch", p_.cursor.epoch}, {"step", p_.cursor.step}}},
             {"config", s_.config.config_values},
             {"config_hash", config_hash(s_.config.config_values)},
             {"data_fingerprint", s_.manifest.fingerprint()},
             {"bad_steps", p_.bad_total},
             {"itm_degenerate_rows", p_.degenerate},
             {"best_epoch", p_.best_epoch},
             {"best_value", p_.best_value},
             {"samples", samples_},
             {"mmaux_version", version()}};
  store_.save(d, *s_.comm);
  log_info("checkpoint", "wrote '{}' (step {})", store_.dir_of(name), p_.step);
}

void Trainer::save_best(const EvalResult& r) {
  if (s_.comm->rank() == 0) {
    fs::path tmp = fs::path(run_dir_) / ".tmp-best";
    fs::path best = fs::path(run_dir_) / "best";
    fs::remove_all(tmp);
    model::save_pretrained(*s_.model, tmp.string());
    write_file_atomic((tmp / "config.ini").string(), s_.config.config_ini);
    nlohmann::json info = {{"epoch", p_.best_epoch},
                           {"step", p_.step},
                           {"metric", s_.config.train.select_metric},
                           {"value", p_.best_value},
                           {"validation", metrics_to_json(r.metrics, s_.manifest.class_names())}};
    write_file_atomic((tmp / "best.json").string(), info.dump(2));
    replace_directory(tmp.string(), best.string());
  }
  s_.comm->barrier();
}

nlohmann::json relation_json(const EvalResult& r, const std::vector<std::string>& classes) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, m] : r.by_relation) j[name] = metrics_to_json(m, classes);
  return j;
}

void Trainer::end_of_epoch() {
  const std::string& metric = s_.config.train.select_metric;
  nlohmann::json rec = {{"kind", "epoch"}, {"epoch", p_.epoch}, {"step", p_.step}};
  if (s_.manifest.has_split("validation")) {
    EvalResult r = s_.evaluate("validation", nullptr);
    double value = metric == "loss" ? -r.loss : metric_value(r.metrics, metric);
    bool better = p_.best_epoch < 0 || value > p_.best_value;
    log_info("eval",
             "epoch {}: validation macro F1 {:.4f}, weighted F1 {:.4f}, accuracy {:.4f}, "
             "loss {:.4f}{}",
             p_.epoch + 1, r.metrics.macro_f1, r.metrics.weighted_f1, r.metrics.accuracy, r.loss,
             better ? " (best so far)" : "");
    if (better) {
      p_.best_epoch = static_cast<int>(p_.epoch);
      p_.best_value = value;
      save_best(r);
    }
    rec["validation"] = metrics_to_json(r.metrics, s_.manifest.class_names());
    rec["validation"]["loss"] = r.loss;
    rec["validation_by_relation"] = relation_json(r, s_.manifest.class_names());
  } else {
    log_warn("eval", "no validation split: the last epoch's model is the one tested");
    p_.best_epoch = static_cast<int>(p_.epoch);
    save_best(EvalResult{});
  }
  if (s_.comm->rank() == 0) append_jsonl((fs::path(run_dir_) / "metrics.jsonl").string(), rec);
  save_checkpoint(step_checkpoint_name(p_.step));
}

void Trainer::finish() {
  auto t0 = Clock::now();
  // The test split is scored once, with the best validation checkpoint.
  fs::path best = fs::path(run_dir_) / "best" / "model.safetensors";
  dist::NamedTensors params;
  for (const auto& item : s_.model->named_parameters())
    params.emplace_back(item.key(), item.value());
  auto loaded = model::SafetensorsReader(best.string()).load_all();
  copy_named(params, {loaded.begin(), loaded.end()}, fmt::format("'{}'", best.string()));
  nlohmann::json results;
  const RunConfig& c = s_.config;
  if (s_.manifest.has_split("test")) {
    EvalResult r = s_.evaluate("test", nullptr);
    results["test"] = metrics_to_json(r.metrics, s_.manifest.class_names());
    results["test"]["loss"] = r.loss;
    results["test_by_relation"] = relation_json(r, s_.manifest.class_names());
    log_info("eval", "test (best epoch {}): macro F1 {:.4f}, weighted F1 {:.4f}, accuracy {:.4f}",
             p_.best_epoch + 1, r.metrics.macro_f1, r.metrics.weighted_f1, r.metrics.accuracy);
  }
  if (s_.comm->rank() != 0) return;
  fs::path best_json = fs::path(run_dir_) / "best" / "best.json";
  if (fs::exists(best_json)) {
    std::ifstream in(best_json);
    results["validation"] = nlohmann::json::parse(in).value("validation", nlohmann::json::object());
  }
  nlohmann::json config = nlohmann::json::object();
  for (const auto& [k, v] : c.config_values) config[k] = v;
  results["mmaux_version"] = version();
  results["config"] = config;
  results["config_hash"] = config_hash(c.config_values);
  results["dataset"] = s_.manifest.dataset();
  results["model"] = c.model.name;
  results["preset"] = c.model.preset;
  results["loss_setting"] = loss_setting(c.loss);
  results["itm_mode"] = c.loss.itm_mode;
  results["seed"] = c.train.seed;
  results["world_size"] = s_.comm->world_size();
  results["best_epoch"] = p_.best_epoch;
  results["steps"] = p_.step;
  results["skipped_steps"] = p_.bad_total;
  results["itm_degenerate_rows"] = p_.degenerate;
  results["timings"] = {
      {"train_s", train_seconds_},
      {"test_eval_s", seconds_since(t0)},
      {"total_s", seconds_since(start_)},
      {"train_samples_per_s", train_seconds_ > 0 ? samples_ / train_seconds_ : 0}};
  results["peak_memory_mb"] = peak_memory_mb();
  write_file_atomic((fs::path(run_dir_) / "results.json").string(), results.dump(2));
  log_info("train", "wrote '{}'", (fs::path(run_dir_) / "results.json").string());
}

int Trainer::run() {
  setup();
  while (p_.cursor.epoch < s_.config.train.epochs) {
    bool finished_epoch = train_epoch();
    if (!finished_epoch) return kExitRequeue;
    if (interactive(*s_.comm) && s_.comm->rank() == 0) fmt::print("\n");
    end_of_epoch();
    if (p_.step >= total_steps()) break;
    if (stop_signal() != 0) {  // a signal during evaluation: the epoch checkpoint is written
      bool bad = false;
      if (stop_agreed(false, &bad)) return kExitRequeue;
    }
  }
  finish();
  return kExitOk;
}

}  // namespace

bool config_key_may_change_on_resume(const std::string& key) {
  return key == "train.resume" || key.rfind("log.", 0) == 0 || key == "dist.threads" ||
         key == "dist.timeout-s" || key == "data.prefetch" || key == "data.loader-threads" ||
         key == "dist.divergence-check-every" || key == "train.log-every" || key == "data.dir";
}

int run_training(const RunConfig& config) {
  Trainer trainer(config);
  return trainer.run();
}

}  // namespace mmaux::train
