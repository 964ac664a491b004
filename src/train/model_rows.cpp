#include "train/model_rows.h"

#include <ATen/ATen.h>

#include "mmaux/dist/all_gather.h"

namespace mmaux::train {

model::ModelInput select_pairs(const model::ModelInput& rows, const loss::ItmPlan& plan,
                               int64_t offset) {
  const at::Tensor t = plan.text_rows - offset, v = plan.image_rows - offset;
  model::ModelInput out{rows.input_ids.index_select(0, t), rows.attention_mask.index_select(0, t),
                        rows.pixels.index_select(0, v), rows.pixel_mask.index_select(0, v)};
  if (rows.token_type_ids.defined()) out.token_type_ids = rows.token_type_ids.index_select(0, t);
  if (rows.region_features.defined()) {
    out.region_features = rows.region_features.index_select(0, v);
    out.region_boxes = rows.region_boxes.index_select(0, v);
    out.region_mask = rows.region_mask.index_select(0, v);
  }
  return out;
}

model::ModelInput gather_rows(const model::ModelInput& local, dist::Communicator& comm,
                              int64_t pad_id) {
  model::ModelInput out{dist::all_gather_padded(local.input_ids, comm, static_cast<double>(pad_id)),
                        dist::all_gather_padded(local.attention_mask, comm, 0),
                        dist::all_gather_padded(local.pixels, comm, 0),
                        dist::all_gather_padded(local.pixel_mask, comm, 0)};
  if (local.token_type_ids.defined()) {
    out.token_type_ids = dist::all_gather_padded(local.token_type_ids, comm, 0);
  }
  if (local.region_features.defined()) {
    out.region_features = dist::all_gather_padded(local.region_features, comm, 0);
    out.region_boxes = dist::all_gather_padded(local.region_boxes, comm, 0);
    out.region_mask = dist::all_gather_padded(local.region_mask, comm, 0);
  }
  return out;
}

}  // namespace mmaux::train
