// Resuming with other stopping criteria (train.max-steps, train.epochs): what is recorded, and
// when a learning-rate schedule that depends on the number of steps makes the run refuse.
#include <gtest/gtest.h>

#include "mmaux/core/error.h"
#include "mmaux/train/optimizer.h"
#include "support/test_support.h"
#include "train/extension.h"

namespace mmaux::train {
namespace {

constexpr int64_t kStepsPerEpoch = 8;

// A run configured with `max_steps` and `epochs`, and its option values as the CLI gives them.
RunConfig config(long max_steps, int epochs, Schedule schedule = Schedule::kConstant,
                 double warmup = 0, ExtendSchedule extend = ExtendSchedule::kRefuse) {
  RunConfig c;
  c.train.max_steps = max_steps;
  c.train.epochs = epochs;
  c.train.schedule = schedule;
  c.train.warmup = warmup;
  c.train.lr = 1e-3;
  c.train.extend_schedule = extend;
  c.options = {{"train.lr", {"0.001", true}},
               {"train.max-steps", {std::to_string(max_steps), true, true}},
               {"train.epochs", {std::to_string(epochs), true, true}},
               {"train.extend-schedule", {std::string(name_of(extend)), false}}};
  return c;
}

// The state of a checkpoint at `step` of a run configured as `c`, its schedule over `horizon`.
TrainState checkpoint(const RunConfig& c, int64_t step, int64_t horizon = 0) {
  TrainState s;
  s.step = step;
  s.config = option_texts(c.options);
  s.schedule_horizon = horizon;
  return s;
}

std::string refusal(const RunConfig& c, const TrainState& s) {
  return testing::message_of<ConfigError>(
      [&] { plan_continuation(c, s, kStepsPerEpoch, "run/checkpoints/step-00000008"); });
}

TEST(Extension, PlannedStepsAreEpochsCappedByMaxSteps) {
  EXPECT_EQ(planned_steps(8, 3, 0), 24);
  EXPECT_EQ(planned_steps(8, 3, 10), 10);
  EXPECT_EQ(planned_steps(8, 3, 100), 24);
}

TEST(Extension, UnchangedCriteriaKeepTheRecordedHorizon) {
  RunConfig c = config(16, 5, Schedule::kLinear);
  Continuation k = plan_continuation(c, checkpoint(c, 8, 12), kStepsPerEpoch, "ckpt");
  EXPECT_FALSE(k.extension);
  EXPECT_EQ(k.horizon, 12);  // e.g. kept by an earlier keep-horizon extension
  // A checkpoint from before the horizon was recorded: the total of its own criteria.
  EXPECT_EQ(plan_continuation(c, checkpoint(c, 8), kStepsPerEpoch, "ckpt").horizon, 16);
}

TEST(Extension, AConstantScheduleExtendsAndRecordsIt) {
  TrainState s = checkpoint(config(8, 5), 8, 8);
  Continuation k = plan_continuation(config(16, 5), s, kStepsPerEpoch, "ckpt");
  ASSERT_TRUE(k.extension);
  const RunExtension& e = *k.extension;
  EXPECT_EQ(e.step, 8);
  EXPECT_EQ(e.options.at("train.max-steps"), std::make_pair(std::string("8"), std::string("16")));
  EXPECT_EQ(e.options.count("train.epochs"), 0u);
  EXPECT_EQ(e.steps_from, 8);
  EXPECT_EQ(e.steps_to, 16);
  EXPECT_EQ(e.schedule, "");  // the schedule was not affected
  EXPECT_EQ(k.horizon, 16);
  EXPECT_EQ(e.time.size(), 20u);
  // More epochs: 5 x 8 = 40 steps instead of 16.
  Continuation more =
      plan_continuation(config(0, 5), checkpoint(config(0, 2), 16, 16), kStepsPerEpoch, "ckpt");
  ASSERT_TRUE(more.extension);
  EXPECT_EQ(more.extension->steps_from, 16);
  EXPECT_EQ(more.extension->steps_to, 40);
  // Ending before the checkpoint's step is refused, naming both.
  std::string msg = refusal(config(4, 5), s);
  EXPECT_NE(msg.find("end after 4 steps, but the checkpoint is at step 8"), std::string::npos)
      << msg;
}

TEST(Extension, ADecayingScheduleRefusesUnlessToldHowToGoOn) {
  TrainState s = checkpoint(config(8, 5, Schedule::kLinear), 4, 8);
  std::string msg = refusal(config(16, 5, Schedule::kLinear), s);
  EXPECT_NE(msg.find("train.max-steps 8 -> 16"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--train.extend-schedule rescale"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--train.extend-schedule keep-horizon"), std::string::npos) << msg;
  // The learning rates it quotes: step 4 of 16 (0.00075) instead of step 4 of 8 (0.0005).
  EXPECT_NE(msg.find("becomes 0.00075 instead of 0.0005"), std::string::npos) << msg;

  Continuation r = plan_continuation(config(16, 5, Schedule::kLinear, 0, ExtendSchedule::kRescale),
                                     s, kStepsPerEpoch, "ckpt");
  EXPECT_EQ(r.horizon, 16);
  EXPECT_EQ(r.extension->schedule, "rescale");
  EXPECT_EQ(r.extension->horizon_from, 8);
  EXPECT_EQ(r.extension->horizon_to, 16);

  // keep-horizon past the horizon would train at learning rate 0: refused.
  msg = refusal(config(16, 5, Schedule::kCosine, 0, ExtendSchedule::kKeepHorizon),
                checkpoint(config(8, 5, Schedule::kCosine), 4, 8));
  EXPECT_NE(msg.find("reaches learning rate 0 at step 8"), std::string::npos) << msg;
  // ... but stopping earlier on the planned schedule is what it is for.
  Continuation k =
      plan_continuation(config(6, 5, Schedule::kCosine, 0, ExtendSchedule::kKeepHorizon),
                        checkpoint(config(8, 5, Schedule::kCosine), 4, 8), kStepsPerEpoch, "ckpt");
  EXPECT_EQ(k.horizon, 8);
  EXPECT_EQ(k.extension->schedule, "keep-horizon");
}

TEST(Extension, AFractionalWarmupMattersOnlyWhileItLasts) {
  // warmup 0.25: 2 steps of 8, 4 of 16. At step 8 both are over: nothing to decide.
  RunConfig before = config(8, 5, Schedule::kConstant, 0.25);
  Continuation k = plan_continuation(config(16, 5, Schedule::kConstant, 0.25),
                                     checkpoint(before, 8, 8), kStepsPerEpoch, "ckpt");
  EXPECT_EQ(k.extension->schedule, "");
  // At step 1 the warmup would change: refused; warmup in steps (>= 1) never depends on it.
  EXPECT_NE(refusal(config(16, 5, Schedule::kConstant, 0.25), checkpoint(before, 1, 8)),
            "<no exception>");
  RunConfig steps = config(8, 5, Schedule::kConstant, 3);
  EXPECT_EQ(plan_continuation(config(16, 5, Schedule::kConstant, 3), checkpoint(steps, 1, 8),
                              kStepsPerEpoch, "ckpt")
                .extension->schedule,
            "");
}

TEST(Extension, ScheduleDiffersComparesTheRemainingSteps) {
  TrainOptions t;
  t.lr = 1;
  t.schedule = Schedule::kLinear;
  EXPECT_TRUE(schedule_differs(t, 4, 16, 8, 16));
  EXPECT_FALSE(schedule_differs(t, 4, 16, 16, 16));
  EXPECT_FALSE(schedule_differs(t, 16, 20, 8, 16));  // past both horizons: 0 either way
  t.schedule = Schedule::kConstant;
  EXPECT_FALSE(schedule_differs(t, 0, 16, 8, 16));
}

}  // namespace
}  // namespace mmaux::train
