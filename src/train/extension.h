#pragma once
// Private: a resumed run whose stopping criteria (train.max-steps, train.epochs) differ from its
// checkpoint's: an extension or an earlier end, and the learning-rate schedule from there on.
//
// Why only the schedule needs a decision: the data order of an epoch depends on (seed, epoch)
// alone, dropout draws on the checkpointed RNG streams, and the stopping criteria enter nothing
// else but the schedule's horizon (its "total steps"), which linear and cosine decay and a warmup
// given as a fraction are computed over.

#include <cstdint>
#include <optional>
#include <string>

#include "mmaux/config/run_config.h"
#include "mmaux/train/results.h"
#include "mmaux/train/train_state.h"

namespace mmaux::train {

/// The optimizer steps of a run: every epoch's, capped by `max_steps` (0 = no cap).
int64_t planned_steps(int64_t steps_per_epoch, int64_t epochs, int64_t max_steps);

/// Whether some step in [from_step, to_step) gets another learning rate under `t`'s schedule over
/// `horizon_a` steps than over `horizon_b`.
bool schedule_differs(const TrainOptions& t, int64_t from_step, int64_t to_step, int64_t horizon_a,
                      int64_t horizon_b);

/// How a resumed run goes on.
struct Continuation {
  int64_t horizon = 0;                    ///< the steps the schedule spans from here on
  std::optional<RunExtension> extension;  ///< set when the stopping criteria changed
};

/// Decides how a run resumed from `state` (read from checkpoint `dir`) continues under `config`,
/// an epoch being `steps_per_epoch` optimizer steps. Throws ConfigError naming the options and
/// the way out when the new criteria end the run before the checkpoint's step, or when the
/// remaining steps' learning rates would change and train.extend-schedule = refuse (or
/// keep-horizon would train steps at learning rate 0). Not collective.
Continuation plan_continuation(const RunConfig& config, const TrainState& state,
                               int64_t steps_per_epoch, const std::string& dir);

/// Moves RUN/results.json, which describes the run before its extension, to
/// results-step-NNNNNNNN.json (its own step count) and returns that name; "" when there is none.
std::string set_aside_results(const std::string& run_dir, int64_t fallback_step);

/// One log line for an extension.
std::string describe(const RunExtension& e);

}  // namespace mmaux::train
