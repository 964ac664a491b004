#pragma once
#include "mmaux/config/enum_names.h"

namespace mmaux {

/// loss.itm-mode: which pairs the ITM head sees (METHOD.md §1, ITM).
enum class ItmMode { kRandom, kHard };
template <>
struct EnumNames<ItmMode> {
  static constexpr EnumName<ItmMode> table[] = {{ItmMode::kRandom, "random"},
                                                {ItmMode::kHard, "hard"}};
};

/// loss.class-weights: balanced (w_c = N / (C · n_c) from the training split) or none.
enum class ClassWeights { kBalanced, kNone };
template <>
struct EnumNames<ClassWeights> {
  static constexpr EnumName<ClassWeights> table[] = {{ClassWeights::kBalanced, "balanced"},
                                                     {ClassWeights::kNone, "none"}};
};

/// loss.ce-norm. kBatch: divide the weighted CE sum by the global row count N (paper).
/// kWeights: divide by the global sum of the target classes' weights.
enum class CeNorm { kBatch, kWeights };
template <>
struct EnumNames<CeNorm> {
  static constexpr EnumName<CeNorm> table[] = {{CeNorm::kBatch, "batch"},
                                               {CeNorm::kWeights, "weights"}};
};

/// [loss] section: L = ce·CE + itc·ITC + itm·ITM.
struct LossOptions {
  double ce = -1;  ///< < 0: 1 - itc - itm (paper)
  double itc = 0;
  double itm = 0;
  ItmMode itm_mode = ItmMode::kRandom;                   ///< random (paper) | hard
  ClassWeights class_weights = ClassWeights::kBalanced;  ///< balanced | none
  CeNorm ce_norm = CeNorm::kBatch;                       ///< batch (paper: 1/N) | weights
  double logit_scale_init = 2.659260036932778;           ///< ln(1/0.07)
  bool clamp_logit_scale = false;                        ///< clamp the learned scale at ln 100
  double hard_eps = 1e-4;  ///< added to softmax weights in hard negative sampling
};

/// The weights of the three terms, with loss.ce < 0 resolved to 1 - itc - itm.
struct LossWeights {
  double ce = 1;
  double itc = 0;
  double itm = 0;
};
LossWeights loss_weights(const LossOptions& o);

/// "ce", "itc", "itm" or "itc+itm": which auxiliary losses are on (results.json, aggregation).
const char* loss_setting(const LossOptions& o);

}  // namespace mmaux
