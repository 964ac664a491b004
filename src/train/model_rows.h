#pragma once
// Private to train: rows of a model::ModelInput for the ITM pass of joint_loss and of
// contrastive_accumulation_step. Every per-row
// input moves together: token ids, attention mask and token type ids (when defined) follow the
// text rows; pixels, pixel mask and region features, boxes and mask (when defined) the image
// rows. Undefined token type ids stay undefined
// (type 0 for every token, as the encoders read them), so both paths agree.

#include <c10/core/Device.h>

#include <cstdint>
#include <vector>

#include "mmaux/dist/communicator.h"
#include "mmaux/loss/itm.h"
#include "mmaux/model/multimodal.h"

namespace mmaux::train {

/// The ITM pairs of `plan` as model input: text row plan.text_rows[i] - offset and image row
/// plan.image_rows[i] - offset of `rows` form pair i. `rows` is the local batch (random mode,
/// offset = its first global row) or the gathered global batch (hard mode, offset 0).
model::ModelInput select_pairs(const model::ModelInput& rows, const loss::ItmPlan& plan,
                               int64_t offset);

/// Every rank's rows of `local` in rank order (no gradient), padded to the largest size over
/// ranks: token ids with `pad_id`, attention masks and token type ids with 0 (masked anyway),
/// variable-size images with zeros and a zero pixel mask. Collective: every rank calls it, with
/// token type ids defined on every rank or on none (they come from the same loader).
model::ModelInput gather_rows(const model::ModelInput& local, dist::Communicator& comm,
                              int64_t pad_id);

/// The rows of `parts` concatenated in order (the micro-batches of an accumulated batch), every
/// field padded at the end of each dim >= 1 to its largest size over the parts, as gather_rows
/// pads across ranks. Preconditions: at least one part; token type ids defined in every part or
/// in none.
model::ModelInput concat_rows(const std::vector<model::ModelInput>& parts, int64_t pad_id);

/// `in` with every defined field on `device` (undefined token type ids stay undefined).
model::ModelInput to_device(const model::ModelInput& in, c10::Device device);

}  // namespace mmaux::train
