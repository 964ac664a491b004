// run_model_options: the model options a run builds its model with. Paper mode pins ViT position
// interpolation to the paper's transformers 4.25.1 formula unless the user chose one.
#include <gtest/gtest.h>

#include "mmaux/config/run_config.h"

namespace mmaux {
namespace {

RunConfig with(bool paper, VitInterpolation interpolation) {
  RunConfig c;
  c.train.paper = paper;
  c.model.vit_interpolation = interpolation;
  return c;
}

TEST(RunModelOptions, PaperModeResolvesAutoToScaleFactor) {
  EXPECT_EQ(run_model_options(with(true, VitInterpolation::kAuto)).vit_interpolation,
            VitInterpolation::kScaleFactor);
}

TEST(RunModelOptions, OutsidePaperModeAutoStaysForTheModelDirectory) {
  // auto then means the directory's config.json, else size: make_model decides.
  EXPECT_EQ(run_model_options(with(false, VitInterpolation::kAuto)).vit_interpolation,
            VitInterpolation::kAuto);
}

TEST(RunModelOptions, AnExplicitChoiceWinsInEveryMode) {
  for (bool paper : {false, true}) {
    for (VitInterpolation v : {VitInterpolation::kScaleFactor, VitInterpolation::kSize}) {
      EXPECT_EQ(run_model_options(with(paper, v)).vit_interpolation, v)
          << "paper " << paper << ", " << name_of(v);
    }
  }
}

TEST(RunModelOptions, PaperModeReachesTheModel) {
  // lxmert reads it (its ITC text side is detached in paper mode, as the reference code does).
  EXPECT_TRUE(run_model_options(with(true, VitInterpolation::kAuto)).paper);
  EXPECT_FALSE(run_model_options(with(false, VitInterpolation::kAuto)).paper);
}

TEST(RunModelOptions, EveryOtherModelOptionIsKept) {
  RunConfig c = with(true, VitInterpolation::kAuto);
  c.model.name = ModelKind::kVilt;
  c.model.dir = "models/vilt";
  c.model.allow_no_weights = true;
  c.model.dropout = 0.3;
  ModelOptions o = run_model_options(c);
  EXPECT_EQ(o.name, ModelKind::kVilt);
  EXPECT_EQ(o.dir, "models/vilt");
  EXPECT_TRUE(o.allow_no_weights);
  EXPECT_DOUBLE_EQ(o.dropout, 0.3);
}

}  // namespace
}  // namespace mmaux
