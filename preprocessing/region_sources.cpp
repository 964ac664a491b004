#include "region_sources.h"

#include <ATen/ATen.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "mmaux/core/hash.h"
#include "mmaux/data/image.h"
#include "mmaux/data/preprocess.h"
#include "mmaux/model/resnet.h"
#include "mmaux/model/torch_bin.h"

namespace fs = std::filesystem;

namespace mmaux::preprocessing {
namespace {

using data::RegionError;
using data::RegionFeatures;
namespace skip_reason = data::skip_reason;

/// The [n, cols] float32 values of the tensor in `file` (shape [1, n, cols] or [n, cols]).
at::Tensor read_rows(const fs::path& file, int64_t cols, const std::string& what) {
  std::error_code ec;
  const auto bytes = fs::file_size(file, ec);
  if (ec) {
    throw RegionError(skip_reason::kMissingRegions,
                      fmt::format("no {} file '{}' ({})", what, file.string(), ec.message()));
  }
  if (bytes > kMaxRegionFileBytes) {
    throw RegionError(
        skip_reason::kInvalidRegions,
        fmt::format("{} file '{}' has {} bytes, more than the {} a file of {} "
                    "regions can need",
                    what, file.string(), bytes, kMaxRegionFileBytes, data::kMaxRegions));
  }
  at::Tensor t;
  try {
    t = model::read_torch_tensor(file.string());
  } catch (const DataError& e) {
    throw RegionError(skip_reason::kInvalidRegions, e.what());
  }
  const std::string shape = fmt::format("[{}]", fmt::join(t.sizes(), ", "));
  if (t.dim() == 3 && t.size(0) == 1) t = t[0];
  if (t.dim() != 2 || t.size(1) != cols || t.size(0) > data::kMaxRegions ||
      !at::isFloatingType(t.scalar_type())) {
    throw RegionError(skip_reason::kInvalidRegions,
                      fmt::format("{} file '{}' holds a {} tensor of shape {}, expected floating "
                                  "point [1, n, {}] or [n, {}] with n <= {}",
                                  what, file.string(), c10::toString(t.scalar_type()), shape, cols,
                                  cols, data::kMaxRegions));
  }
  return t.to(at::kFloat).contiguous();
}

std::vector<float> values(const at::Tensor& t) {
  const float* p = t.data_ptr<float>();
  return std::vector<float>(p, p + t.numel());
}

class TorchDirSource : public data::RegionSource {
 public:
  explicit TorchDirSource(const std::string& dir) : path_(dir) {
    for (const char* sub : {"features", "boxes"}) {
      MMAUX_CHECK_DATA(fs::is_directory(fs::path(dir) / sub),
                       "--region-features '{}' is a directory without '{}/': expected the layout "
                       "of the paper's scripts, features/feat_{{post_id}} and boxes/"
                       "nbox_{{post_id}} (torch.save files), or give an HDF5 file",
                       dir, sub);
    }
  }
  std::string kind() const override { return "torch-dir"; }
  const std::string& path() const override { return path_; }

  void fingerprint(Sha256& h, const std::vector<std::string>& ids) const override {
    for (const auto& id : ids) {
      for (const auto& file : {feature_file(id), box_file(id)}) {
        struct stat st {};
        if (::stat(file.c_str(), &st) == 0) {
          h.update(fmt::format("{}:{}:{}\x1e", id, int64_t(st.st_size), int64_t(st.st_mtime)));
        } else {
          h.update(id + ":-\x1e");
        }
      }
    }
  }

  RegionFeatures read(const std::string& id, int feature_dim) const override {
    if (id.empty() || id == "." || id == ".." || id.find('/') != std::string::npos) {
      throw RegionError(skip_reason::kMissingRegions,
                        fmt::format("post id '{}' cannot name a file under '{}'", id, path_));
    }
    const at::Tensor f = read_rows(feature_file(id), feature_dim, "roi_features");
    const at::Tensor b = read_rows(box_file(id), 4, "normalized_boxes");
    if (f.size(0) != b.size(0)) {
      throw RegionError(
          skip_reason::kInvalidRegions,
          fmt::format("post '{}': {} regions in '{}' but {} boxes in '{}'", id, f.size(0),
                      feature_file(id).string(), b.size(0), box_file(id).string()));
    }
    RegionFeatures r;
    r.count = int32_t(f.size(0));
    r.features = values(f);
    r.boxes = values(b);
    return r;
  }

 private:
  fs::path feature_file(const std::string& id) const {
    return fs::path(path_) / "features" / ("feat_" + id);
  }
  fs::path box_file(const std::string& id) const {
    return fs::path(path_) / "boxes" / ("nbox_" + id);
  }
  std::string path_;
};

constexpr int kGrid = 6;         // 6 × 6 = 36 cells, LXMERT's number of regions
constexpr int kGridInput = 224;  // the ImageNet size the ResNet was trained at

class GridSource : public data::RegionSource {
 public:
  GridSource(const data::RawDataset& raw, const std::string& dir)
      : path_(dir), resnet_(model::load_resnet(dir, true)) {
    resnet_->eval();
    for (const auto& p : raw.posts) images_[p.post_id] = (fs::path(raw.raw_dir) / p.image).string();
  }
  std::string kind() const override { return "grid"; }
  const std::string& path() const override { return path_; }

  // The ResNet's files (the images are in the pipeline's own fingerprint).
  void fingerprint(Sha256& h, const std::vector<std::string>&) const override {
    h.update(fmt::format("grid-v1|{}|{}|", kGrid, kGridInput));
    std::vector<std::string> lines;
    for (const auto& e : fs::directory_iterator(path_)) {
      if (!e.is_regular_file()) continue;
      struct stat st {};
      ::stat(e.path().c_str(), &st);
      lines.push_back(fmt::format("{}:{}:{}", e.path().filename().string(), int64_t(st.st_size),
                                  int64_t(st.st_mtime)));
    }
    std::sort(lines.begin(), lines.end());
    for (const auto& l : lines) h.update(l + "\x1e");
  }

  RegionFeatures read(const std::string& id, int feature_dim) const override {
    const int64_t channels = resnet_->config().num_features();
    MMAUX_CHECK_DATA(channels == feature_dim,
                     "--region-features grid: the ResNet in '{}' gives {} features per cell but "
                     "the model's visual_feat_dim is {}",
                     path_, channels, feature_dim);
    auto it = images_.find(id);
    if (it == images_.end()) {
      throw RegionError(skip_reason::kMissingRegions, fmt::format("post '{}' has no image", id));
    }
    data::Image img;
    try {
      img = data::load_image(it->second,
                             data::ImagePreset::parse(fmt::format("fixed:{}", kGridInput)));
    } catch (const data::ImageError& e) {
      throw RegionError(skip_reason::kInvalidRegions, e.what());
    }
    at::NoGradGuard no_grad;
    at::Tensor x = at::from_blob(img.pixels.data(), {1, 3, img.height, img.width}, at::kByte)
                       .to(at::kFloat)
                       .div(255);
    const at::Tensor mean = at::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
    const at::Tensor std = at::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
    at::Tensor cells = at::adaptive_avg_pool2d(resnet_->features((x - mean) / std), {kGrid, kGrid});
    cells = cells.flatten(2).transpose(1, 2).contiguous();  // [1, 36, C], row-major cells
    RegionFeatures r;
    r.count = kGrid * kGrid;
    r.features = values(cells);
    for (int row = 0; row < kGrid; ++row) {
      for (int col = 0; col < kGrid; ++col) {
        for (int v : {col, row, col + 1, row + 1}) r.boxes.push_back(float(v) / kGrid);
      }
    }
    return r;
  }

 private:
  std::string path_;
  std::shared_ptr<model::ResNet> resnet_;
  std::map<std::string, std::string> images_;  ///< post id -> image path
};

}  // namespace

std::unique_ptr<data::RegionSource> open_region_grid(const data::RawDataset& raw,
                                                     const std::string& resnet_dir) {
  return std::make_unique<GridSource>(raw, resnet_dir);
}

std::unique_ptr<data::RegionSource> open_region_torch_dir(const std::string& dir) {
  return std::make_unique<TorchDirSource>(dir);
}

std::unique_ptr<data::RegionSource> open_region_source(const std::string& spec,
                                                       const data::RawDataset& raw,
                                                       const std::string& grid_model) {
  if (spec.empty()) return nullptr;
  if (spec == "grid") {
    MMAUX_CHECK_CONFIG(!grid_model.empty(),
                       "--region-features grid needs --region-grid-model DIR, a ResNet directory "
                       "(config.json and model.safetensors or pytorch_model.bin, e.g. "
                       "timm/resnet152.tv_in1k)");
    return open_region_grid(raw, grid_model);
  }
  MMAUX_CHECK_CONFIG(fs::exists(spec),
                     "--region-features '{}' does not exist; give an HDF5 file "
                     "(/{{post_id}}/roi_features, /{{post_id}}/normalized_boxes) or the paper "
                     "scripts' directory with features/ and boxes/",
                     spec);
  if (fs::is_directory(spec)) return open_region_torch_dir(spec);
  return data::open_region_h5(spec);
}

}  // namespace mmaux::preprocessing
