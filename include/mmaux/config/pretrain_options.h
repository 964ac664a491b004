#pragma once
/// [pretrain] section: `mmaux pretrain`'s objective beyond the shared loss settings
/// (L = itc·ITC + itm·ITM + mlm·MLM; its ITC and ITM weights live in LossOptions, with CE 0).

namespace mmaux {

struct PretrainOptions {
  bool on = false;          ///< set by `mmaux pretrain` (not an option): the run pretrains
  double mlm = 1;           ///< weight of masked-language modelling on the text tower (0 = off)
  double mask_prob = 0.15;  ///< fraction of real, non-special tokens selected (BERT: 0.15)
};

}  // namespace mmaux
