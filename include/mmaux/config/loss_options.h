#pragma once
#include <string>

namespace mmaux {
/// [loss] section: L = ce·CE + itc·ITC + itm·ITM.
struct LossOptions {
  double ce = -1;  ///< < 0: 1 - itc - itm (paper)
  double itc = 0;
  double itm = 0;
  std::string itm_mode = "random";              ///< random (paper) | hard
  std::string class_weights = "balanced";       ///< balanced | none
  std::string ce_norm = "batch";                ///< batch (paper: 1/N) | weights (1/sum w_y)
  double logit_scale_init = 2.659260036932778;  ///< ln(1/0.07)
  bool clamp_logit_scale = false;               ///< clamp the learned scale at ln 100
  double hard_eps = 1e-4;  ///< added to softmax weights in hard negative sampling
};
}  // namespace mmaux
