#include <memory>

#include "cli/command.h"

namespace mmaux::cli {

// The objective of `mmaux pretrain`: its ITC and ITM settings are LossOptions fields (the same
// terms as fine-tuning's), named pretrain.* here; CE is off and no class weights are read.
void declare_pretrain_options(OptionSet& set, PretrainOptions& p, LossOptions& l) {
  set.group("Pretraining")
      .add("pretrain.itc", &l.itc, "ITC weight (0 = off)", in_range(0, 100))
      .add("pretrain.itm", &l.itm, "ITM weight (0 = off)", in_range(0, 100))
      .add("pretrain.itm-mode", &l.itm_mode, "ITM negatives: hard (mined from ITC) or random")
      .add("pretrain.mlm", &p.mlm, "masked-language-modelling weight (0 = off)", in_range(0, 100))
      .add("pretrain.mask-prob", &p.mask_prob,
           "fraction of real, non-special tokens selected for MLM (80% [MASK], 10% random, 10% "
           "kept)",
           in_range(0.001, 1))
      .add("pretrain.logit-scale-init", &l.logit_scale_init, "initial ITC log scale (ln 1/0.07)",
           in_range(-10, 10))
      .add("pretrain.clamp-logit-scale", &l.clamp_logit_scale, "clamp the ITC log scale at ln 100")
      .add("pretrain.hard-eps", &l.hard_eps, "added to hard-negative sampling weights",
           in_range(0, 1));
}

Command make_pretrain_command() {
  auto s = std::make_shared<TrainingRun>();
  s->run.pretrain.on = true;
  s->run.loss.ce = 0;
  s->run.loss.itc = 1;
  s->run.loss.itm = 1;
  s->run.loss.itm_mode = ItmMode::kHard;
  s->run.loss.class_weights = ClassWeights::kNone;
  Command c = training_run_command(s);
  c.name = "pretrain";
  c.summary = "pretrain the towers on image-text pairs (ITC + ITM + MLM, labels ignored)";
  c.usage = "mmaux pretrain [--config FILE] [options]";
  c.example =
      "mpirun -np 2 mmaux pretrain --data.dir data/demo/shards --model.preset tiny "
      "--train.out runs/pretrain";
  return c;
}

}  // namespace mmaux::cli
