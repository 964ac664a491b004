// The run's records, typed: results.json (RunResults) and state.json (TrainState) read back what
// was written, and results.json from before trajectory_keys still reads.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "mmaux/core/error.h"
#include "mmaux/train/results.h"
#include "mmaux/train/train_state.h"

namespace mmaux::train {
namespace {

using nlohmann::json;

SplitScores scores(double macro, std::optional<double> loss) {
  ConfusionMatrix cm(2);
  cm.add(0, 0);
  cm.add(1, 0);
  cm.add(1, 1);
  SplitScores s{cm.metrics(), {"negative", "positive"}, loss};
  s.metrics.macro_f1 = macro;
  return s;
}

RunExtension extension() {
  RunExtension e;
  e.step = 8;
  e.time = "2024-05-01T12:00:00Z";
  e.options = {{"train.max-steps", {"8", "16"}}};
  e.steps_from = 8;
  e.steps_to = 16;
  e.schedule = "rescale";
  e.horizon_from = 8;
  e.horizon_to = 16;
  e.previous_results = "results-step-00000008.json";
  return e;
}

TEST(RunResults, JsonRoundTrip) {
  RunResults r;
  r.mmaux_version = "1.2.3";
  r.config = {{"train.lr", "1e-05"}, {"train.out", "runs/a"}};
  r.trajectory_keys = {"train.lr"};
  r.config_hash = "abc";
  r.dataset = "mvsa";
  r.data_fingerprint = "f00d";
  r.model = "vilt";
  r.preset = "tiny";
  r.loss_setting = "itc";
  r.itm_mode = "hard";
  r.seed = 4;
  r.world_size = 2;
  r.best_epoch = 1;
  r.steps = 40;
  r.validation = scores(0.5, std::nullopt);
  r.test = scores(0.25, 0.75);
  r.test_by_relation["describes"] = scores(0.125, std::nullopt);
  r.timings.train_s = 2.5;
  r.peak_memory_mb = 100;
  r.extensions.push_back(extension());
  json j = to_json(r);
  EXPECT_EQ(j["extensions"][0]["options"]["train.max-steps"]["to"], "16");
  EXPECT_EQ(j["extensions"][0]["horizon"]["to"], 16);
  EXPECT_EQ(j["test"]["loss"], 0.75);
  EXPECT_FALSE(j["validation"].contains("loss"));
  EXPECT_EQ(j["test"]["per_class"]["positive"]["support"], 2);
  RunResults back = run_results_from_json(json::parse(j.dump(2)), "results.json");
  EXPECT_EQ(to_json(back), j);  // every field survives
  EXPECT_EQ(back.seed, 4u);
  EXPECT_EQ(back.trajectory_keys, r.trajectory_keys);
  EXPECT_DOUBLE_EQ(back.test->metrics.macro_f1, 0.25);
}

TEST(RunResults, OlderAndHandWrittenFilesRead) {
  // What the launch fixture writes: a few fields, no trajectory_keys, no per-class scores.
  json j = json::parse(R"({"mmaux_version": "fixture", "config": {"train.seed": "3", "x": 2},
      "dataset": "synth", "model": "tiny-model", "loss_setting": "itc", "seed": 3,
      "test": {"macro_f1": 0.53, "weighted_f1": 0.58, "accuracy": 0.53}, "timings": {}})");
  RunResults r = run_results_from_json(j, "results.json");
  EXPECT_TRUE(r.trajectory_keys.empty());
  EXPECT_TRUE(r.data_fingerprint.empty());
  EXPECT_TRUE(r.extensions.empty());
  EXPECT_EQ(r.config.at("x"), "2");  // a number reads as its text
  EXPECT_DOUBLE_EQ(r.test->metrics.weighted_f1, 0.58);
  EXPECT_TRUE(std::isnan(r.test->metrics.macro_recall));  // absent: NaN, not a made-up 0
  EXPECT_FALSE(r.validation.has_value());
}

TEST(RunResults, WrongTypesAreDataErrorsNamingTheField) {
  json j = json::parse(R"({"test": {"macro_f1": "high"}})");
  try {
    run_results_from_json(j, "r/results.json");
    FAIL() << "no DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("r/results.json test"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("macro_f1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(run_results_from_json(json::array(), "x"), DataError);
}

TEST(TrainState, JsonRoundTrip) {
  TrainState s;
  s.step = 16;
  s.epoch = 1;
  s.cursor_epoch = 1;
  s.cursor_step = 3;
  s.bad_steps = 2;
  s.itm_degenerate_rows = 5;
  s.best_epoch = 0;
  s.best_value = 0.625;
  s.samples = 256;
  s.config = {{"train.lr", "0.001"}};
  s.config_hash = "0123456789abcdef";
  s.data_fingerprint = "fp";
  s.mmaux_version = "0.1.0";
  s.schedule_horizon = 16;
  s.last_eval_step = 8;
  s.last_eval_epoch = 1;
  s.extensions = {extension()};
  json j = to_json(s);
  EXPECT_EQ(j["cursor"]["step"], 3);
  EXPECT_EQ(to_json(train_state_from_json(j, "state.json")), j);
  EXPECT_THROW(train_state_from_json(json::parse(R"({"step": 1})"), "state.json"), DataError);
  // A checkpoint from before extensions existed.
  TrainState old = train_state_from_json(
      json::parse(R"({"step": 1, "cursor": {"epoch": 0, "step": 1}})"), "state.json");
  EXPECT_EQ(old.schedule_horizon, 0);
  EXPECT_EQ(old.last_eval_step, -1);
  EXPECT_TRUE(old.extensions.empty());
}

TEST(TrainState, ConfigHashCoversTheTrajectoryOptionsOnly) {
  OptionValues a = {{"train.lr", {"0.001", true}}, {"train.out", {"runs/a", false}}};
  OptionValues b = {{"train.lr", {"0.001", true}}, {"train.out", {"runs/b", false}}};
  OptionValues c = {{"train.lr", {"0.002", true}}, {"train.out", {"runs/a", false}}};
  EXPECT_EQ(config_hash(a).size(), 16u);
  EXPECT_EQ(config_hash(a), config_hash(b));
  EXPECT_NE(config_hash(a), config_hash(c));
  EXPECT_TRUE(resume_conflicts(b, {{"train.lr", "0.001"}, {"train.out", "runs/a"}}).empty());
  EXPECT_EQ(resume_conflicts(c, {{"train.out", "runs/a"}}),
            (std::vector<std::string>{"train.lr (<absent> -> 0.002)"}));
  // An option newer than the checkpoint: compatible at its default only.
  OptionValues newer = {{"train.lr", {"0.001", true}},
                        {"train.dtype", {"float32", true, false, "float32"}}};
  EXPECT_TRUE(resume_conflicts(newer, {{"train.lr", "0.001"}}).empty());
  newer["train.dtype"].text = "float64";
  EXPECT_EQ(resume_conflicts(newer, {{"train.lr", "0.001"}}),
            (std::vector<std::string>{"train.dtype (<absent> -> float64)"}));
}

TEST(TrainState, StoppingCriteriaMayChangeOnResumeAndAreListed) {
  OptionValues longer = {{"train.lr", {"0.001", true}}, {"train.max-steps", {"16", true, true}}};
  std::map<std::string, std::string> stored = {{"train.lr", "0.001"}, {"train.max-steps", "8"}};
  EXPECT_TRUE(resume_conflicts(longer, stored).empty());
  auto changes = stopping_changes(longer, stored);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes.at("train.max-steps"), std::make_pair(std::string("8"), std::string("16")));
  EXPECT_TRUE(stopping_changes(longer, {{"train.max-steps", "16"}}).empty());
  // Still part of what the run computes: the hash of the final values differs.
  OptionValues shorter = {{"train.lr", {"0.001", true}}, {"train.max-steps", {"8", true, true}}};
  EXPECT_NE(config_hash(longer), config_hash(shorter));
}

}  // namespace
}  // namespace mmaux::train
