// The paper's train/eval switching (reference code, models/mm_early.py): its LXMERT and ViLT
// call train() once before the epoch loop and eval() after every epoch, so from the second epoch
// on they train without dropout; Ber-ViT and MMBT switch back every epoch. Paper mode reproduces
// it for vilt and lxmert only. (tests/e2e/train_paper_dropout.sh checks the trainer applies it.)
#include <gtest/gtest.h>

#include "mmaux/train/trainer.h"

namespace mmaux::train {
namespace {

TEST(PaperDropout, OffFromTheSecondEpochForViltAndLxmertInPaperMode) {
  RunConfig c;
  for (ModelKind kind : {ModelKind::kVilt, ModelKind::kLxmert}) {
    c.model.name = kind;
    c.train.paper = true;
    EXPECT_TRUE(trains_with_dropout(c, 0)) << name_of(kind);
    for (int64_t epoch : {1, 2, 9}) EXPECT_FALSE(trains_with_dropout(c, epoch)) << name_of(kind);
    c.train.paper = false;
    for (int64_t epoch : {0, 1, 2, 9}) EXPECT_TRUE(trains_with_dropout(c, epoch)) << name_of(kind);
  }
}

TEST(PaperDropout, DualStreamModelsAlwaysTrainWithDropout) {
  RunConfig c;
  c.train.paper = true;
  for (ModelKind kind : {ModelKind::kBerVitConcat, ModelKind::kBerVitAtt}) {
    c.model.name = kind;
    for (int64_t epoch : {0, 1, 5}) EXPECT_TRUE(trains_with_dropout(c, epoch)) << name_of(kind);
  }
}

}  // namespace
}  // namespace mmaux::train
