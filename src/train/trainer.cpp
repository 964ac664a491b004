// The training loop: steps, gradient synchronisation, skips of non-finite steps, stop signals and
// epoch ends, for fine-tuning (`mmaux train`) and pretraining (`mmaux pretrain`: the objective's
// passes, the epoch's validation and what is written differ; pretraining.cpp). Its other jobs
// have their own files: the objective (joint_loss.cpp), checkpoint
// state (run_checkpoints.cpp, train_state.cpp), the run directory's lock and repair
// (run_directory.cpp), extensions (extension.cpp), the best model (best_model.cpp), scoring a
// split (score_split.cpp) and results.json (results.cpp).
#include "mmaux/train/trainer.h"

#include <ATen/ATen.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "best_model.h"
#include "extension.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/log.h"
#include "mmaux/core/version.h"
#include "mmaux/data/loader.h"
#include "mmaux/loss/itc.h"
#include "mmaux/train/contrastive_accumulation.h"
#include "mmaux/train/joint_loss.h"
#include "mmaux/train/pretrain.h"
#include "mmaux/train/results.h"
#include "mmaux/train/run_files.h"
#include "mmaux/train/signals.h"
#include "pretraining.h"
#include "run_checkpoints.h"
#include "run_directory.h"
#include "score_split.h"
#include "session.h"

namespace fs = std::filesystem;

namespace mmaux::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A progress line rewritten in place only for one process on a terminal: mpirun hands its
// ranks a pseudo-terminal even when its own output goes to a file, so distributed runs log lines.
bool interactive(const dist::Communicator& comm) {
  return isatty(STDOUT_FILENO) && comm.world_size() == 1;
}

nlohmann::json relation_json(const EvalResult& r, const std::vector<std::string>& classes) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, m] : r.by_relation) j[name] = metrics_to_json(m, classes);
  return j;
}

// The micro-batches of one optimizer step.
struct Window {
  bool complete = false;  // false: the epoch ended first
  double loss = 0;        // mean of the micro-batches' losses
  StepLosses last;
  int64_t samples = 0;  // global rows seen
};

class Trainer {
 public:
  // The run directory is locked as soon as the communicator exists: before anything is written
  // or loaded.
  explicit Trainer(const RunConfig& config)
      : s_(config,
           [this, &config](dist::Communicator& comm) {
             const char* command = config.pretrain.on ? "mmaux pretrain" : "mmaux train";
             lock_ = lock_for_job(config.train.out,
                                  LockOwner::this_process(command, config.batch_job), true, comm);
           }),
        best_(s_) {}
  int run();

 private:
  void setup();
  void continue_from(const std::string& checkpoint);
  int64_t total_steps() const;
  Window accumulate();
  Window accumulate_whole_batch();
  bool inject_nonfinite() const;
  bool train_epoch();  // false: stopped by a signal
  bool optimizer_step(double loss_value);
  double gradient_norm(std::vector<at::Tensor>& grads) const;
  void count_bad_step();
  void log_step(const StepLosses& l, double lr, double samples_per_s);
  void end_of_epoch();
  void finish();
  RunResults results(const std::optional<EvalResult>& test, double test_eval_s) const;
  bool stop_agreed(bool bad_local, bool* bad_global);
  std::string metrics_file() const { return (fs::path(run_dir_) / "metrics.jsonl").string(); }

  std::optional<FileLock> lock_;  // rank 0: held until the trainer is gone
  Session s_;
  BestModel best_;
  std::unique_ptr<AdamW> opt_;
  std::unique_ptr<RunCheckpoints> checkpoints_;
  std::unique_ptr<data::Loader> loader_;
  std::unique_ptr<dist::GradSync> sync_;
  std::unique_ptr<Pretraining> pretrain_;  // null when fine-tuning
  TrainState state_;
  int64_t bad_in_row_ = 0;  // non-finite steps in a row (not checkpointed)
  std::string run_dir_;
  Clock::time_point start_ = Clock::now();
  double train_seconds_ = 0;
};

int64_t Trainer::total_steps() const {
  return planned_steps(loader_->steps_per_epoch() / s_.config.train.accumulate,
                       s_.config.train.epochs, s_.config.train.max_steps);
}

void Trainer::setup() {
  const RunConfig& c = s_.config;
  run_dir_ = c.train.out;
  if (s_.comm->rank() == 0) repair_run_directory(run_dir_);  // under the lock, before any read
  s_.comm->barrier();
  loader_ = std::make_unique<data::Loader>(
      s_.manifest,
      data::training_loader_options(c.data, c.train.seed, s_.comm->rank(), s_.comm->world_size()));
  MMAUX_CHECK_CONFIG(loader_->steps_per_epoch() >= c.train.accumulate,
                     "the training split has {} samples: fewer than one optimizer step of "
                     "data.batch-size {} x train.accumulate {}",
                     loader_->split_size(), c.data.batch_size, c.train.accumulate);
  MMAUX_CHECK_CONFIG(c.data.batch_size >= s_.comm->world_size(),
                     "data.batch-size {} is smaller than the world size {}: every rank needs rows",
                     c.data.batch_size, s_.comm->world_size());
  // The MLM head joins the session's parameters before the optimizer and checkpoints see them.
  if (c.pretrain.on) pretrain_ = std::make_unique<Pretraining>(s_);
  opt_ = std::make_unique<AdamW>(make_param_groups(s_.trainable_named(), c.train.weight_decay,
                                                   c.train.paper || c.train.decay_norm_and_bias));
  checkpoints_ = std::make_unique<RunCheckpoints>(s_, *opt_);
  std::string resume_dir = checkpoints_->resume_dir();
  if (!resume_dir.empty()) {
    state_ = checkpoints_->restore(resume_dir);
    continue_from(resume_dir);
  } else {
    state_.schedule_horizon = total_steps();
  }

  sync_ =
      std::make_unique<dist::GradSync>(s_.trainable_named(), s_.buffers_named(), s_.comm, c.dist);
  install_stop_handlers();
  if (s_.comm->rank() == 0) {
    log_info("config", "effective configuration:\n{}", c.config_ini);
  }
}

// Stopping criteria that differ from the checkpoint's: an extension, recorded in the state.
void Trainer::continue_from(const std::string& checkpoint) {
  Continuation c = plan_continuation(
      s_.config, state_, loader_->steps_per_epoch() / s_.config.train.accumulate, checkpoint);
  state_.schedule_horizon = c.horizon;
  if (!c.extension) return;
  RunExtension& e = *c.extension;
  if (s_.comm->rank() == 0) e.previous_results = set_aside_results(run_dir_, state_.step);
  log_info("train", "extending the run at step {}: {} ({} steps in all instead of {}){}", e.step,
           describe(e), e.steps_to, e.steps_from,
           e.schedule.empty() ? std::string()
                              : fmt::format("; learning-rate schedule: {}, over {} steps",
                                            e.schedule, e.horizon_to));
  state_.extensions.push_back(e);
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

double Trainer::gradient_norm(std::vector<at::Tensor>& grads) const {
  for (const auto& g : opt_->groups())
    for (const auto& p : g.params)
      if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0;
  // One call for every gradient (per-tensor norms accumulate in double on the CPU), one sum,
  // one host read: not three ops and a device sync per parameter.
  std::vector<at::Tensor> norms = at::_foreach_norm(grads);
  for (auto& n : norms) n = n.to(at::kDouble);  // the logit scale may differ in dtype
  return std::sqrt(at::stack(norms).pow(2).sum().item<double>());
}

void Trainer::count_bad_step() {
  ++bad_in_row_;
  ++state_.bad_steps;
  log_warn("train", "step {}: non-finite loss or gradients, step skipped ({} in a row, {} in all)",
           state_.step, bad_in_row_, state_.bad_steps);
  const int max_bad = s_.config.train.max_bad_steps;
  MMAUX_CHECK(bad_in_row_ < max_bad,
              "{} non-finite steps in a row (train.max-bad-steps = {}): the run diverged; "
              "lower train.lr or enable train.clip-norm",
              bad_in_row_, max_bad);
}

// Clips, checks and applies the averaged gradients. Returns false when a stop was agreed.
bool Trainer::optimizer_step(double loss_value) {
  const TrainOptions& t = s_.config.train;
  std::vector<at::Tensor> grads;
  double norm = gradient_norm(grads);
  bool bad_local = !std::isfinite(loss_value) || !std::isfinite(norm);
  bool bad = false;
  bool stop = stop_agreed(bad_local, &bad);
  if (bad) {
    count_bad_step();
  } else {
    bad_in_row_ = 0;
    if (t.clip_norm > 0 && norm > t.clip_norm) {
      at::NoGradGuard ng;
      for (auto& g : grads) g.mul_(t.clip_norm / (norm + 1e-6));
    }
    double lr = scheduled_lr(t.schedule, t.lr, t.warmup, state_.step, state_.schedule_horizon);
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
  at::Tensor v = at::tensor({l.total.item<double>(), l.ce, l.itc, l.itm, l.mlm}, at::kDouble)
                     .to(s_.comm->device());
  s_.comm->all_reduce(v, dist::ReduceOp::kAvg);
  v = v.cpu();
  if (s_.comm->rank() != 0) return;
  nlohmann::json rec = {{"kind", "step"},
                        {"step", state_.step},
                        {"epoch", state_.epoch},
                        {"lr", lr},
                        {"loss", v[0].item<double>()},
                        {"ce", v[1].item<double>()},
                        {"itc", v[2].item<double>()},
                        {"itm", v[3].item<double>()},
                        {"logit_scale", s_.logit_scale.item<double>()},
                        {"samples_per_s", samples_per_s},
                        {"skipped_steps", state_.bad_steps}};
  if (pretrain_) rec["mlm"] = v[4].item<double>();
  append_jsonl(metrics_file(), rec);
  int64_t total = total_steps();
  double eta = samples_per_s > 0 ? (total - state_.step) * s_.config.data.batch_size *
                                       s_.config.train.accumulate / samples_per_s
                                 : 0;
  std::string terms = pretrain_
                          ? fmt::format("itc {:.4f} itm {:.4f} mlm {:.4f}", v[2].item<double>(),
                                        v[3].item<double>(), v[4].item<double>())
                          : fmt::format("ce {:.4f} itc {:.4f} itm {:.4f}", v[1].item<double>(),
                                        v[2].item<double>(), v[3].item<double>());
  std::string line =
      fmt::format("epoch {}/{} step {}/{} | {:.1f} samples/s | loss {:.4f} ({}) | eta {:.0f}s",
                  state_.epoch + 1, s_.config.train.epochs, state_.step, total, samples_per_s,
                  v[0].item<double>(), terms, eta);
  if (interactive(*s_.comm)) {
    fmt::print("\r{}\x1b[K", line);
    std::fflush(stdout);
  } else {
    log_info("train", "{}", line);
  }
}

bool Trainer::inject_nonfinite() const {
  const TrainOptions& t = s_.config.train;
  return t.inject_nonfinite_from > 0 && state_.step + 1 >= t.inject_nonfinite_from &&
         s_.comm->rank() == 0;
}

// Forward and backward passes of the micro-batches of one optimizer step.
Window Trainer::accumulate() {
  const TrainOptions& t = s_.config.train;
  const int a = t.accumulate;
  if ((a > 1 && t.contrastive_accumulation) || pretrain_) return accumulate_whole_batch();
  Window w;
  for (int k = 0; k < a; ++k) {
    std::optional<data::Batch> b = loader_->next();
    if (!b) return w;
    sync_->set_sync(k == a - 1);
    StepLosses l = joint_loss(s_.loss_model(), *b, state_.step, s_.objective, *s_.comm);
    if (inject_nonfinite()) l.total = l.total * std::numeric_limits<double>::quiet_NaN();
    (l.total / a).backward();
    w.loss += l.total.item<double>() / a;
    state_.itm_degenerate_rows += l.degenerate;
    w.samples += b->global_batch_size;
    w.last = l;
  }
  w.complete = true;
  return w;
}

// The same with the objective of the whole accumulated batch (contrastive_accumulation.h).
Window Trainer::accumulate_whole_batch() {
  Window w;
  std::vector<data::Batch> micro;
  int64_t samples = 0;
  for (int k = 0; k < s_.config.train.accumulate; ++k) {
    std::optional<data::Batch> b = loader_->next();
    if (!b) return w;
    samples += b->global_batch_size;
    micro.push_back(std::move(*b));
  }
  AccumulationHooks hooks;
  hooks.before_backward = [this](int j, int count, at::Tensor& term) {
    sync_->set_sync(j == count - 1);
    if (inject_nonfinite()) term = term * std::numeric_limits<double>::quiet_NaN();
  };
  AccumulatedStep step = pretrain_
                             ? pretrain_->step(micro, state_.step, hooks)
                             : contrastive_accumulation_step(s_.loss_model(), micro, state_.step,
                                                             s_.objective, *s_.comm, hooks);
  w.loss = step.losses.total.item<double>();
  state_.itm_degenerate_rows += step.losses.degenerate;
  w.last = std::move(step.losses);
  w.samples = samples;
  w.complete = true;
  return w;
}

bool Trainer::train_epoch() {
  const TrainOptions& t = s_.config.train;
  loader_->start_epoch(state_.cursor_epoch, state_.cursor_step);
  state_.epoch = state_.cursor_epoch;
  const bool dropout = trains_with_dropout(s_.config, state_.epoch);
  if (!dropout && s_.model->is_training()) {
    log_info("train",
             "epoch {}: {} trains in eval mode (no dropout) from now on, as the paper's "
             "reference code did (train.paper)",
             state_.epoch + 1, name_of(s_.config.model.name));
  }
  s_.model->train(dropout);
  auto window_start = Clock::now();
  int64_t window_samples = 0;
  bool data_ended = false;
  while (state_.step < total_steps()) {
    auto t0 = Clock::now();
    Window w = accumulate();
    // BatchNorm statistics moved on each rank with its own rows; rank 0's are kept (DDP's rule).
    sync_->broadcast_buffers();
    window_samples += w.samples;
    if (!w.complete) {  // end of the epoch; micro-batches of an incomplete window are dropped
      opt_->zero_grad();
      data_ended = true;
      break;
    }
    sync_->finish();
    bool go_on = optimizer_step(w.loss);
    train_seconds_ += seconds_since(t0);
    ++state_.step;
    state_.samples += static_cast<int64_t>(t.accumulate) * s_.config.data.batch_size;
    state_.cursor_epoch = loader_->cursor().epoch;
    state_.cursor_step = loader_->cursor().step;
    sync_->check_divergence(state_.step);
    if (state_.step % t.log_every == 0 || !go_on) {
      double lr =
          scheduled_lr(t.schedule, t.lr, t.warmup, state_.step - 1, state_.schedule_horizon);
      log_step(w.last, lr, window_samples / std::max(1e-9, seconds_since(window_start)));
      window_start = Clock::now();
      window_samples = 0;
    }
    if (!go_on) {
      log_info("train", "stop signal received: checkpointing at step {} and exiting with code {}",
               state_.step, static_cast<int>(kExitRequeue));
      checkpoints_->save(step_checkpoint_name(state_.step), state_);
      return false;
    }
    if (t.checkpoint_every > 0 && state_.step % t.checkpoint_every == 0) {
      checkpoints_->save(step_checkpoint_name(state_.step), state_);
    }
  }
  // The epoch's data ended, or the run's last step was made inside it. The cursor stays there
  // unless every batch of the epoch was read: an extended run goes on with the rest of the epoch
  // (the micro-batches of an incomplete window too), exactly as an uninterrupted one would.
  if (data_ended || loader_->cursor().step >= loader_->steps_per_epoch()) {
    state_.cursor_epoch = state_.epoch + 1;
    state_.cursor_step = 0;
  }
  return true;
}

void Trainer::end_of_epoch() {
  // A run resumed at a step where it had stopped (and been validated) before, which only read the
  // epoch's last micro-batches since: the model is the one validated then. Only the checkpoint
  // is written again, for the cursor that moved on.
  if (state_.last_eval_step == state_.step && state_.last_eval_epoch == state_.epoch) {
    log_info("eval", "epoch {}: the model of step {} was validated when the run stopped there",
             state_.epoch + 1, state_.step);
    checkpoints_->save(step_checkpoint_name(state_.step), state_);
    return;
  }
  state_.last_eval_step = state_.step;
  state_.last_eval_epoch = state_.epoch;
  nlohmann::json rec = {{"kind", "epoch"},
                        {"epoch", state_.epoch},
                        {"step", state_.step},
                        {"dropout", s_.model->is_training()}};
  if (pretrain_) {
    pretrain_->end_of_epoch(state_, rec);
  } else if (s_.manifest.has_split("validation")) {
    EvalResult r = score_split(s_, "validation", nullptr);
    double value = best_.score(r);
    bool better = BestModel::improves(value, state_);
    log_info("eval",
             "epoch {}: validation macro F1 {:.4f}, weighted F1 {:.4f}, accuracy {:.4f}, "
             "loss {:.4f}{}",
             state_.epoch + 1, r.metrics.macro_f1, r.metrics.weighted_f1, r.metrics.accuracy,
             r.loss, better ? " (best so far)" : "");
    if (better) {
      state_.best_epoch = static_cast<int>(state_.epoch);
      state_.best_value = value;
      best_.promote(r, state_);
    }
    rec["validation"] = metrics_to_json(r.metrics, s_.manifest.class_names());
    rec["validation"]["loss"] = r.loss;
    rec["validation_by_relation"] = relation_json(r, s_.manifest.class_names());
  } else {
    log_warn("eval", "no validation split: the last epoch's model is the one tested");
    state_.best_epoch = static_cast<int>(state_.epoch);
    best_.promote(EvalResult{}, state_);
  }
  if (s_.comm->rank() == 0) append_jsonl(metrics_file(), rec);
  checkpoints_->save(step_checkpoint_name(state_.step), state_);
}

RunResults Trainer::results(const std::optional<EvalResult>& test, double test_eval_s) const {
  const RunConfig& c = s_.config;
  RunResults r;
  r.mmaux_version = version();
  r.config = option_texts(c.options);
  r.trajectory_keys = trajectory_keys(c.options);
  r.config_hash = config_hash(c.options);
  r.dataset = s_.manifest.dataset();
  r.data_fingerprint = s_.manifest.fingerprint();
  r.model = name_of(c.model.name);
  r.preset = name_of(c.model.preset);
  r.loss_setting = loss_setting(c.loss);
  r.itm_mode = name_of(c.loss.itm_mode);
  r.seed = c.train.seed;
  r.world_size = s_.comm->world_size();
  r.best_epoch = state_.best_epoch;
  r.steps = state_.step;
  r.skipped_steps = state_.bad_steps;
  r.itm_degenerate_rows = state_.itm_degenerate_rows;
  r.extensions = state_.extensions;
  r.validation = best_.validation_scores();
  if (test) {
    r.test = split_scores(test->metrics, s_, test->loss);
    for (const auto& [name, m] : test->by_relation) r.test_by_relation[name] = split_scores(m, s_);
  }
  r.timings.train_s = train_seconds_;
  r.timings.test_eval_s = test_eval_s;
  r.timings.total_s = seconds_since(start_);
  r.timings.train_samples_per_s = train_seconds_ > 0 ? state_.samples / train_seconds_ : 0;
  r.peak_memory_mb = peak_memory_mb();
  return r;
}

void Trainer::finish() {
  if (pretrain_) {  // the towers of the last epoch are in RUN/towers
    if (s_.comm->rank() != 0) return;
    // results.json says the run is complete (the sweep's and the batch script's test), with the
    // towers, the start and last epoch's figures; it has no classification scores.
    nlohmann::json j = to_json(results(std::nullopt, 0));
    for (const char* k : {"validation", "best_epoch", "itm_degenerate_rows"}) j.erase(k);
    j["timings"].erase("test_eval_s");
    j["kind"] = "pretrain";
    j["loss_setting"] = "pretrain";
    j["towers"] = (fs::path(run_dir_) / "towers").string();
    const nlohmann::json summary = pretrain_->summary(metrics_file());
    j["start"] = summary["start"];
    j["final"] = summary["final"];
    const std::string path = (fs::path(run_dir_) / "results.json").string();
    write_file_atomic(path, j.dump(2));
    log_info("pretrain", "done after {} steps: towers in '{}', summary '{}'", state_.step,
             j["towers"].get<std::string>(), path);
    return;
  }
  auto t0 = Clock::now();
  // The test split is scored once, with the best validation checkpoint.
  best_.load_into_model();
  std::optional<EvalResult> test;
  if (s_.manifest.has_split("test")) {
    test = score_split(s_, "test", nullptr);
    log_info("eval", "test (best epoch {}): macro F1 {:.4f}, weighted F1 {:.4f}, accuracy {:.4f}",
             state_.best_epoch + 1, test->metrics.macro_f1, test->metrics.weighted_f1,
             test->metrics.accuracy);
  }
  if (s_.comm->rank() != 0) return;
  const std::string path = (fs::path(run_dir_) / "results.json").string();
  write_file_atomic(path, to_json(results(test, seconds_since(t0))).dump(2));
  log_info("train", "wrote '{}'", path);
}

int Trainer::run() {
  setup();
  if (pretrain_ && state_.step == 0) pretrain_->validate_at_start(metrics_file());
  while (state_.cursor_epoch < s_.config.train.epochs && state_.step < total_steps()) {
    bool finished_epoch = train_epoch();
    if (!finished_epoch) return kExitRequeue;
    if (interactive(*s_.comm) && s_.comm->rank() == 0) fmt::print("\n");
    end_of_epoch();
    if (state_.step >= total_steps()) break;
    if (stop_signal() != 0) {  // a signal during evaluation: the epoch checkpoint is written
      bool bad = false;
      if (stop_agreed(false, &bad)) return kExitRequeue;
    }
  }
  finish();
  return kExitOk;
}

}  // namespace

bool trains_with_dropout(const RunConfig& config, int64_t epoch) {
  const ModelKind m = config.model.name;
  return !(config.train.paper && (m == ModelKind::kVilt || m == ModelKind::kLxmert) && epoch >= 1);
}

int run_training(const RunConfig& config) {
  require_labelled_data(config.data.dir, "mmaux train");
  Trainer trainer(config);
  return trainer.run();
}

int run_pretraining(const RunConfig& config) {
  MMAUX_CHECK(config.pretrain.on, "run_pretraining: config.pretrain.on is false");
  Trainer trainer(config);
  return trainer.run();
}

}  // namespace mmaux::train
