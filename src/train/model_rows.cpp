#include "train/model_rows.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "mmaux/core/error.h"
#include "mmaux/dist/all_gather.h"

namespace mmaux::train {
namespace {

/// `x` padded at the end of every dim >= 1 to `sizes` with `value`.
at::Tensor pad_to(const at::Tensor& x, const std::vector<int64_t>& sizes, double value) {
  if (x.sizes().vec() == sizes) return x;
  at::Tensor out = at::full(sizes, value, x.options());
  at::Tensor region = out;
  for (int64_t d = 1; d < x.dim(); ++d) region = region.narrow(d, 0, x.size(d));
  region.copy_(x);
  return out;
}

/// The tensors concatenated along dim 0, each padded to the largest sizes over them.
at::Tensor cat_padded(const std::vector<at::Tensor>& parts, double value) {
  std::vector<int64_t> sizes = parts.front().sizes().vec();
  for (const at::Tensor& p : parts) {
    for (int64_t d = 1; d < p.dim(); ++d) sizes[d] = std::max(sizes[d], p.size(d));
  }
  std::vector<at::Tensor> padded;
  for (const at::Tensor& p : parts) {
    std::vector<int64_t> target = sizes;
    target[0] = p.size(0);
    padded.push_back(pad_to(p, target, value));
  }
  return at::cat(padded);
}

}  // namespace

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

model::ModelInput concat_rows(const std::vector<model::ModelInput>& parts, int64_t pad_id) {
  MMAUX_ASSERT(!parts.empty(), "concat_rows: no parts");
  const bool types = parts.front().token_type_ids.defined();
  auto field = [&](at::Tensor model::ModelInput::*f, double pad) {
    std::vector<at::Tensor> all;
    for (const model::ModelInput& p : parts) {
      MMAUX_ASSERT(p.token_type_ids.defined() == types,
                   "concat_rows: token type ids defined in some parts only (part {} of {})",
                   all.size(), parts.size());
      all.push_back(p.*f);
    }
    return cat_padded(all, pad);
  };
  model::ModelInput out{field(&model::ModelInput::input_ids, static_cast<double>(pad_id)),
                        field(&model::ModelInput::attention_mask, 0),
                        field(&model::ModelInput::pixels, 0),
                        field(&model::ModelInput::pixel_mask, 0)};
  if (types) out.token_type_ids = field(&model::ModelInput::token_type_ids, 0);
  // Regions (LXMERT) go with the image rows; padded regions get mask 0.
  const bool regions = parts.front().region_features.defined();
  for (const model::ModelInput& p : parts) {
    MMAUX_ASSERT(p.region_features.defined() == regions,
                 "concat_rows: region features defined in some parts only");
  }
  if (regions) {
    out.region_features = field(&model::ModelInput::region_features, 0);
    out.region_boxes = field(&model::ModelInput::region_boxes, 0);
    out.region_mask = field(&model::ModelInput::region_mask, 0);
  }
  return out;
}

model::ModelInput to_device(const model::ModelInput& in, c10::Device device) {
  model::ModelInput out{in.input_ids.to(device), in.attention_mask.to(device), in.pixels.to(device),
                        in.pixel_mask.to(device)};
  if (in.token_type_ids.defined()) out.token_type_ids = in.token_type_ids.to(device);
  for (auto [to, from] : {std::pair{&out.region_features, &in.region_features},
                          {&out.region_boxes, &in.region_boxes},
                          {&out.region_mask, &in.region_mask}}) {
    if (from->defined()) *to = from->to(device);
  }
  out.need_itc = in.need_itc;
  return out;
}

}  // namespace mmaux::train
