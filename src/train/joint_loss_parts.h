#pragma once
// Private: the pieces of train::joint_loss (joint_loss.cpp) that
// train::contrastive_accumulation_step (contrastive_accumulation.cpp) shares, so that both build
// ITM pairs, autocast and key dropout masks the same way (rows of the ITM pass: model_rows.h).

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "mmaux/loss/itm.h"
#include "mmaux/train/autocast.h"

namespace mmaux::train::detail {

/// The random ITM plan of `rows` local rows starting at global row `offset`: the negative text
/// of a row is drawn within its group of `group` consecutive rows (0 or >= rows: all of them).
loss::ItmPlan random_itm_plan(int64_t rows, int64_t offset, loss::SamplingKey key, int64_t group,
                              c10::Device device);

/// The global rows that key the dropout masks of an ITM pass (model::DropoutRows) over the
/// pairs of `rows` local rows from global row `offset` of a global batch of `global_rows`:
/// random mode, pair k is row offset + k; hard mode, the three parts (positives, negative
/// texts, negative images) continue as rows part · global_rows + offset + k.
std::vector<int64_t> itm_pair_rows(bool hard, int64_t rows, int64_t offset, int64_t global_rows);

using train::AutocastScope;  // mmaux/train/autocast.h: one scope for libtorch 1.13 and 2.x

}  // namespace mmaux::train::detail
