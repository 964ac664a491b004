// validate(RunConfig): the rules that involve more than one option, checked once at start-up.
#include <gtest/gtest.h>

#include "mmaux/config/run_config.h"
#include "support/test_support.h"

namespace mmaux {
namespace {

RunConfig valid_config() {
  RunConfig c;
  c.data.dir = "data/shards";
  return c;
}

std::string config_error(const RunConfig& c) {
  return testing::message_of<ConfigError>([&] { validate(c); });
}

TEST(Validate, DefaultsWithADataDirectoryAreValid) {
  EXPECT_NO_THROW(validate(valid_config()));
  RunConfig paper = valid_config();
  paper.train.paper = true;  // constant schedule, no warmup: the defaults
  paper.loss.itc = 0.1;
  paper.loss.itm = 0.1;
  EXPECT_NO_THROW(validate(paper));
}

TEST(Validate, DataDirectoryIsRequired) {
  RunConfig c = valid_config();
  c.data.dir.clear();
  EXPECT_NE(config_error(c).find("option 'data.dir' is required"), std::string::npos);
}

TEST(Validate, ThePaperCeWeightMustNotBeNegative) {
  RunConfig c = valid_config();
  c.loss.itc = 0.7;
  c.loss.itm = 0.5;
  std::string msg = config_error(c);
  EXPECT_NE(msg.find("loss.itc + loss.itm = 1.2 exceeds 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--loss.ce"), std::string::npos) << msg;
  c.loss.ce = 1;  // explicit: fine
  EXPECT_NO_THROW(validate(c));
}

TEST(Validate, SomeLossMustBeOn) {
  RunConfig c = valid_config();
  c.loss.ce = 0;
  std::string msg = config_error(c);
  EXPECT_NE(msg.find("every loss weight is 0"), std::string::npos) << msg;
  c.loss.itm = 0.1;
  EXPECT_NO_THROW(validate(c));
}

TEST(Validate, PaperModeMeansAConstantLearningRate) {
  RunConfig c = valid_config();
  c.train.paper = true;
  c.train.schedule = Schedule::kLinear;
  std::string msg = config_error(c);
  EXPECT_NE(msg.find("train.schedule = linear"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train.paper"), std::string::npos) << msg;
  c.train.schedule = Schedule::kConstant;
  c.train.warmup = 100;
  EXPECT_NE(config_error(c).find("train.warmup = 100"), std::string::npos);
  c.train.paper = false;  // warmup and schedules are for non-paper runs
  c.train.schedule = Schedule::kCosine;
  EXPECT_NO_THROW(validate(c));
}

TEST(Validate, BackendMustFitTheDevice) {
  RunConfig c = valid_config();
  c.dist.backend = CommBackend::kMpi;
  c.train.device = DeviceChoice::kCuda;
  EXPECT_NE(config_error(c).find("dist.backend = mpi moves CPU tensors only"), std::string::npos);
  c.dist.backend = CommBackend::kNccl;
  c.train.device = DeviceChoice::kCpu;
  EXPECT_NE(config_error(c).find("dist.backend = nccl moves CUDA tensors only"), std::string::npos);
  c.train.device = DeviceChoice::kAuto;  // decided at run time
  EXPECT_NO_THROW(validate(c));
}

TEST(Validate, Float64TrainingExcludesBf16AndRegionFeatures) {
  RunConfig c = valid_config();
  c.train.dtype = TrainDtype::kFloat64;
  EXPECT_NO_THROW(validate(c));
  c.train.bf16 = true;
  EXPECT_NE(config_error(c).find("train.bf16 = true"), std::string::npos);
  c.train.bf16 = false;
  c.model.name = ModelKind::kLxmert;
  EXPECT_NE(config_error(c).find("model.name = lxmert"), std::string::npos);
}

TEST(LossWeights, CeDefaultsToOneMinusTheAuxiliaryWeights) {
  LossOptions l;
  l.itc = 0.1;
  l.itm = 0.2;
  EXPECT_DOUBLE_EQ(loss_weights(l).ce, 0.7);
  l.ce = 0.5;
  EXPECT_DOUBLE_EQ(loss_weights(l).ce, 0.5);
  EXPECT_STREQ(loss_setting(l), "itc+itm");
  l.itm = 0;
  EXPECT_STREQ(loss_setting(l), "itc");
}

TEST(OptionValues, TrajectoryKeysAndTexts) {
  OptionValues v = {
      {"train.lr", {"1e-05", true}}, {"train.out", {"runs/a", false}}, {"loss.itc", {"0.1", true}}};
  EXPECT_EQ(trajectory_keys(v), (std::vector<std::string>{"loss.itc", "train.lr"}));
  EXPECT_EQ(option_texts(v).at("train.out"), "runs/a");
}

}  // namespace
}  // namespace mmaux
