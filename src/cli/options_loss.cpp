#include "cli/command.h"

namespace mmaux::cli {

void declare_loss_options(OptionSet& set, LossOptions& o) {
  set.group("Loss")
      .add("loss.ce", &o.ce, "CE weight (< 0: 1 - itc - itm, as in the paper)", in_range(-1, 100))
      .add("loss.itc", &o.itc, "ITC weight (paper 0.1; 0 = off)", in_range(0, 100))
      .add("loss.itm", &o.itm, "ITM weight (paper 0.1; 0 = off)", in_range(0, 100))
      .add("loss.itm-mode", &o.itm_mode, "random (paper) or hard negatives")
      .add("loss.class-weights", &o.class_weights, "balanced (from the training split) or none")
      .add("loss.ce-norm", &o.ce_norm, "batch (paper: divide by N) or weights (divide by sum w_y)")
      .add("loss.logit-scale-init", &o.logit_scale_init, "initial ITC log scale (ln 1/0.07)",
           in_range(-10, 10))
      .add("loss.clamp-logit-scale", &o.clamp_logit_scale, "clamp the ITC log scale at ln 100")
      .add("loss.hard-eps", &o.hard_eps, "added to hard-negative sampling weights", in_range(0, 1));
}

}  // namespace mmaux::cli
