#include "extension.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/strings.h"
#include "mmaux/train/optimizer.h"

namespace fs = std::filesystem;

namespace mmaux::train {
namespace {

// The value of a stopping criterion as the checkpoint recorded it; nullopt when it did not.
std::optional<int64_t> stored_integer(const TrainState& state, const std::string& name) {
  auto it = state.config.find(name);
  if (it == state.config.end()) return std::nullopt;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

double warmup_steps(const TrainOptions& t, int64_t horizon) {
  return t.warmup >= 1 ? t.warmup : t.warmup * static_cast<double>(horizon);
}

[[noreturn]] void refuse(const RunConfig& config, const RunExtension& e, const std::string& dir) {
  const TrainOptions& t = config.train;
  const double lr_then = scheduled_lr(t.schedule, t.lr, t.warmup, e.step, e.horizon_from);
  const double lr_now = scheduled_lr(t.schedule, t.lr, t.warmup, e.step, e.steps_to);
  MMAUX_THROW(ConfigError,
              "cannot resume from '{}' with {}: the run would make {} steps instead of {}, and "
              "its learning-rate schedule (train.schedule = {}, train.warmup = {}) depends on "
              "the number of steps, so the steps from {} on would get other learning rates than "
              "planned. Say how to go on: --train.extend-schedule rescale (the schedule spans "
              "the {} steps from here on; the learning rate at step {} becomes {:.6g} instead "
              "of {:.6g}), or --train.extend-schedule keep-horizon (it keeps its {} steps)",
              dir, describe(e), e.steps_to, e.steps_from, name_of(t.schedule), t.warmup, e.step,
              e.steps_to, e.step, lr_now, lr_then, e.horizon_from);
}

}  // namespace

int64_t planned_steps(int64_t steps_per_epoch, int64_t epochs, int64_t max_steps) {
  const int64_t all = steps_per_epoch * epochs;
  return max_steps > 0 ? std::min(all, max_steps) : all;
}

bool schedule_differs(const TrainOptions& t, int64_t from_step, int64_t to_step, int64_t horizon_a,
                      int64_t horizon_b) {
  if (horizon_a == horizon_b) return false;
  // Past both horizons every schedule is at its last value; a constant one is past both warmups.
  int64_t end = std::min(to_step, std::max(horizon_a, horizon_b));
  if (t.schedule == Schedule::kConstant) {
    const double w = std::max(warmup_steps(t, horizon_a), warmup_steps(t, horizon_b));
    end = std::min(end, static_cast<int64_t>(std::ceil(w)));
  }
  for (int64_t s = from_step; s < end; ++s) {
    if (scheduled_lr(t.schedule, t.lr, t.warmup, s, horizon_a) !=
        scheduled_lr(t.schedule, t.lr, t.warmup, s, horizon_b))
      return true;
  }
  return false;
}

Continuation plan_continuation(const RunConfig& config, const TrainState& state,
                               int64_t steps_per_epoch, const std::string& dir) {
  const TrainOptions& t = config.train;
  const int64_t total = planned_steps(steps_per_epoch, t.epochs, t.max_steps);
  const int64_t total_then =
      planned_steps(steps_per_epoch, stored_integer(state, "train.epochs").value_or(t.epochs),
                    stored_integer(state, "train.max-steps").value_or(t.max_steps));
  Continuation c;
  c.horizon = state.schedule_horizon > 0 ? state.schedule_horizon : total_then;
  auto changes = stopping_changes(config.options, state.config);
  if (changes.empty()) return c;

  RunExtension e;
  e.step = state.step;
  e.time = utc_now("%Y-%m-%dT%H:%M:%SZ");
  e.options = changes;
  e.steps_from = total_then;
  e.steps_to = total;
  e.horizon_from = c.horizon;
  e.horizon_to = total;  // the schedule spans the run's steps, unless kept below
  MMAUX_CHECK_CONFIG(total >= state.step,
                     "cannot resume from '{}' with {}: the run would end after {} steps, but the "
                     "checkpoint is at step {}; give a later end, or resume from an earlier "
                     "checkpoint (--train.resume DIR)",
                     dir, describe(e), total, state.step);
  if (schedule_differs(t, state.step, total, c.horizon, total)) {
    switch (t.extend_schedule) {
      case ExtendSchedule::kRefuse:
        refuse(config, e, dir);
      case ExtendSchedule::kKeepHorizon:
        MMAUX_CHECK_CONFIG(t.schedule == Schedule::kConstant || total <= c.horizon,
                           "cannot resume from '{}' with {} and train.extend-schedule = "
                           "keep-horizon: train.schedule = {} reaches learning rate 0 at step "
                           "{}, so steps {} to {} would train nothing; use "
                           "--train.extend-schedule rescale",
                           dir, describe(e), name_of(t.schedule), c.horizon, c.horizon, total);
        e.schedule = "keep-horizon";
        e.horizon_to = c.horizon;
        break;
      case ExtendSchedule::kRescale:
        e.schedule = "rescale";
        break;
    }
  }
  c.horizon = e.horizon_to;
  c.extension = e;
  return c;
}

std::string set_aside_results(const std::string& run_dir, int64_t fallback_step) {
  const fs::path results = fs::path(run_dir) / "results.json";
  std::error_code ec;
  if (!fs::exists(results, ec)) return "";
  int64_t step = fallback_step;
  try {
    step = read_run_results(results).steps;
  } catch (const DataError&) {  // an unreadable file is set aside all the same
  }
  const std::string name = fmt::format("results-step-{:08d}.json", step);
  fs::rename(results, fs::path(run_dir) / name, ec);
  MMAUX_CHECK(!ec, "cannot move '{}' aside to '{}' before extending the run: {}", results.string(),
              name, ec.message());
  fsync_path(run_dir);
  return name;
}

std::string describe(const RunExtension& e) {
  std::vector<std::string> parts;
  for (const auto& [name, change] : e.options)
    parts.push_back(fmt::format("{} {} -> {}", name, change.first, change.second));
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace mmaux::train
