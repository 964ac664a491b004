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
  for (auto [to, from] : {std::pair{&out.region_features, &rows.region_features},
                          {&out.region_boxes, &rows.region_boxes},
                          {&out.region_mask, &rows.region_mask}}) {
    if (from->defined()) *to = from->index_select(0, v);
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
  // Regions (LXMERT): padded regions get mask 0.
  for (auto [to, from] : {std::pair{&out.region_features, &local.region_features},
                          {&out.region_boxes, &local.region_boxes},
                          {&out.region_mask, &local.region_mask}}) {
    if (from->defined()) *to = dist::all_gather_padded(*from, comm, 0);
  }
  return out;
}

}  // namespace mmaux::train
