#include <ATen/ATen.h>

#include "mmaux/core/error.h"
#include "mmaux/core/hash.h"
#include "mmaux/loss/itm.h"

namespace mmaux::loss {
namespace {

constexpr uint64_t kTextSeed = 0x74657874ULL;
constexpr uint64_t kImageSeed = 0x696D6167ULL;
constexpr uint64_t kRowSeed = 0x726F7773ULL;

void check_cpu(const at::Tensor& t, const char* what) {
  MMAUX_CHECK(t.defined() && t.device().is_cpu() && t.dim() >= 1,
              "{}: expects a CPU tensor with a row dimension (compute keys before moving the "
              "batch to the device)",
              what);
}

}  // namespace

at::Tensor row_keys(const at::Tensor& rows) {
  check_cpu(rows, "row_keys");
  at::Tensor x = rows.contiguous();
  const int64_t b = x.size(0);
  const size_t row_bytes = b > 0 ? static_cast<size_t>(x.numel() / b * x.element_size()) : 0;
  at::Tensor out = at::empty({b}, at::kLong);
  const auto* base = static_cast<const unsigned char*>(x.data_ptr());
  for (int64_t i = 0; i < b; ++i) {
    out.data_ptr<int64_t>()[i] =
        static_cast<int64_t>(hash_bytes(kRowSeed, base + i * row_bytes, row_bytes));
  }
  return out;
}

at::Tensor text_keys(const at::Tensor& input_ids, const at::Tensor& attention_mask) {
  check_cpu(input_ids, "text_keys");
  MMAUX_CHECK(input_ids.dim() == 2, "text_keys: input_ids must be [b, L]");
  at::Tensor ids = input_ids.to(at::kLong).contiguous();
  at::Tensor mask =
      attention_mask.defined() ? attention_mask.to(at::kLong).contiguous() : at::ones_like(ids);
  MMAUX_CHECK(mask.sizes() == ids.sizes(), "text_keys: attention_mask must match input_ids");
  const int64_t b = ids.size(0), len = ids.size(1);
  at::Tensor out = at::empty({b}, at::kLong);
  std::vector<int64_t> tokens;
  for (int64_t i = 0; i < b; ++i) {
    tokens.clear();
    const int64_t* row = ids.data_ptr<int64_t>() + i * len;
    const int64_t* m = mask.data_ptr<int64_t>() + i * len;
    for (int64_t j = 0; j < len; ++j) {
      if (m[j] != 0) tokens.push_back(row[j]);
    }
    uint64_t h = hash_bytes(kTextSeed, tokens.data(), tokens.size() * sizeof(int64_t));
    out.data_ptr<int64_t>()[i] = static_cast<int64_t>(hash_combine(h, tokens.size()));
  }
  return out;
}

at::Tensor image_keys(const at::Tensor& pixels, const at::Tensor& pixel_mask) {
  check_cpu(pixels, "image_keys");
  MMAUX_CHECK(pixels.dim() == 4, "image_keys: pixels must be [b, C, H, W]");
  const int64_t b = pixels.size(0);
  at::Tensor out = at::empty({b}, at::kLong);
  for (int64_t i = 0; i < b; ++i) {
    int64_t h = pixels.size(2), w = pixels.size(3);
    if (pixel_mask.defined()) {
      // The valid region is the top-left rectangle (images are padded right and bottom).
      at::Tensor m = pixel_mask[i] != 0;
      h = m.any(1).sum().item<int64_t>();
      w = m.any(0).sum().item<int64_t>();
    }
    at::Tensor crop = pixels[i].narrow(1, 0, h).narrow(2, 0, w).contiguous();
    uint64_t k = hash_bytes(kImageSeed, crop.data_ptr(),
                            static_cast<size_t>(crop.numel() * crop.element_size()));
    k = hash_combine(hash_combine(k, static_cast<uint64_t>(h)), static_cast<uint64_t>(w));
    out.data_ptr<int64_t>()[i] = static_cast<int64_t>(k);
  }
  return out;
}

}  // namespace mmaux::loss
