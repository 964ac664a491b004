#include "cli/command.h"

namespace mmaux::cli {

void declare_train_options(OptionSet& set, TrainOptions& o) {
  set.group("Training")
      .add("train.out", &o.out, "run directory (checkpoints, metrics.jsonl, results.json)")
      .bookkeeping()
      .add("train.seed", &o.seed, "random seed")
      .add("train.epochs", &o.epochs, "epochs", int_range(1, 100000))
      .stopping()
      .add("train.max-steps", &o.max_steps, "stop after this many steps (0 = run all epochs)",
           int_range(0, 1LL << 40))
      .stopping()
      .add("train.lr", &o.lr, "peak learning rate", in_range(0, 10))
      .add("train.weight-decay", &o.weight_decay, "AdamW weight decay", in_range(0, 10))
      .add("train.decay-norm-and-bias", &o.decay_norm_and_bias,
           "apply weight decay to biases and LayerNorm too (paper: true)")
      .add("train.schedule", &o.schedule, "constant, linear or cosine")
      .add("train.warmup", &o.warmup, "warmup steps (>= 1) or fraction of all steps (< 1)",
           in_range(0, 1e9))
      .add("train.clip-norm", &o.clip_norm, "gradient clipping max norm (0 = off)",
           in_range(0, 1e9))
      .add("train.accumulate", &o.accumulate, "micro-batches per optimizer step",
           int_range(1, 1 << 16))
      .add("train.contrastive-accumulation", &o.contrastive_accumulation,
           "with train.accumulate > 1: ITC and hard ITM over the whole accumulated batch "
           "(gradient cache: one extra forward per micro-batch when ITC or hard ITM is on); "
           "false: each micro-batch's own negatives")
      .add("train.paper", &o.paper,
           "paper mode: one parameter group, constant lr, decay on every parameter")
      .add("train.select-metric", &o.select_metric, "validation metric that picks the best epoch")
      .add("train.checkpoint-every", &o.checkpoint_every,
           "steps between checkpoints (0 = at epoch ends only)", int_range(0, 1LL << 40))
      .bookkeeping()
      .add("train.keep-last", &o.keep_last, "step checkpoints kept besides the best",
           int_range(1, 1000))
      .bookkeeping()
      .add_parsed(
          "train.resume", "none, auto (newest valid checkpoint) or a checkpoint path",
          "none|auto|PATH", [&o](const std::string& text) { o.resume = ResumeFrom::parse(text); },
          [&o] { return o.resume.text(); })
      .bookkeeping()
      .add("train.extend-schedule", &o.extend_schedule,
           "a resume that changes train.max-steps or train.epochs, with a learning-rate schedule "
           "that depends on the number of steps: refuse, keep-horizon (the schedule keeps its "
           "planned steps) or rescale (it spans the new number of steps from here on)")
      .bookkeeping()
      // Skipped steps are skipped whatever the limit; it only decides whether the run aborts,
      // and an aborted run has no result.
      .add("train.max-bad-steps", &o.max_bad_steps,
           "non-finite steps in a row before the run aborts", int_range(1, 1 << 20))
      .bookkeeping()
      .add("train.log-every", &o.log_every, "steps between metric lines", int_range(1, 1LL << 40))
      .bookkeeping()
      .add("train.bf16", &o.bf16, "bf16 autocast on GPU (ignored with a warning on CPU)")
      .add("train.inject-nonfinite-from", &o.inject_nonfinite_from,
           "testing aid: rank 0's loss is made non-finite from this step on (0 = off)",
           int_range(0, 1LL << 40))
      .add("train.device", &o.device, "auto, cpu or cuda")
      .add("train.dtype", &o.dtype,
           "float32, or float64 to verify against another implementation (slow; "
           "bench/model/parity.sh)")
      .add("train.save-initial", &o.save_initial,
           "directory where rank 0 writes the initial weights before the first step (\"\" = "
           "none; bench/model/parity.sh)")
      .bookkeeping();
}

void declare_eval_options(OptionSet& set, EvalOptions& o) {
  set.group("Evaluation")
      .add("checkpoint", &o.checkpoint, "checkpoint directory", required("give --checkpoint DIR"))
      .add("split", &o.split, "train, validation or test", one_of({"train", "validation", "test"}))
      .add("out", &o.out, "predictions CSV (\"\" = CHECKPOINT/predictions_SPLIT.csv)");
}

}  // namespace mmaux::cli
