#include "mmaux/data/regions.h"

#include <sys/stat.h>

#include <cmath>
#include <filesystem>

#include "data/check_h5.h"
#include "mmaux/core/hash.h"
#include "mmaux/data/preprocess.h"

namespace fs = std::filesystem;

namespace mmaux::data {
namespace {

using detail::Handle;
using detail::quiet_hdf5;

RegionError missing(const std::string& what) {
  return RegionError(skip_reason::kMissingRegions, what);
}
RegionError invalid(const std::string& what) {
  return RegionError(skip_reason::kInvalidRegions, what);
}

/// The [rows, cols] of a 2-D floating-point dataset `name` in `group`, checked against the
/// expected columns and the region limit before anything is allocated.
hsize_t region_rows(hid_t ds, const char* name, hsize_t cols, const std::string& where) {
  Handle type(MMAUX_H5_CHECK(H5Dget_type(ds), where), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_FLOAT) {
    throw invalid(fmt::format("{}/{} is not floating point (expected float32)", where, name));
  }
  Handle space(MMAUX_H5_CHECK(H5Dget_space(ds), where), H5Sclose);
  hsize_t dims[3] = {0, 0, 0};
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank == 2) H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  if (rank != 2 || dims[1] != cols || dims[0] > hsize_t(kMaxRegions)) {
    if (rank >= 1 && rank <= 3) H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    throw invalid(fmt::format("{}/{} has shape [{}], expected [n, {}] with n <= {}", where, name,
                              fmt::join(dims, dims + std::max(0, std::min(rank, 3)), ", "), cols,
                              kMaxRegions));
  }
  return dims[0];
}

std::vector<float> read_floats(hid_t ds, size_t count, const std::string& where) {
  std::vector<float> out(count);
  if (count > 0) {
    MMAUX_H5_CHECK(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), where);
  }
  return out;
}

class H5Source : public RegionSource {
 public:
  explicit H5Source(const std::string& path) : path_(path) {
    quiet_hdf5();
    MMAUX_CHECK_DATA(fs::is_regular_file(path),
                     "--region-features '{}' is neither a file nor a directory with features/ "
                     "and boxes/",
                     path);
    MMAUX_CHECK_DATA(H5Fis_hdf5(path.c_str()) > 0,
                     "--region-features '{}' is not an HDF5 file; expected /{{post_id}}/"
                     "roi_features [n, F] and /{{post_id}}/normalized_boxes [n, 4], or a "
                     "directory with features/feat_{{id}} and boxes/nbox_{{id}} torch.save files",
                     path);
    file_ =
        Handle(MMAUX_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path), H5Fclose);
  }
  std::string kind() const override { return "hdf5"; }
  const std::string& path() const override { return path_; }

  void fingerprint(Sha256& h, const std::vector<std::string>&) const override {
    struct stat st {};
    ::stat(path_.c_str(), &st);
    h.update(
        fmt::format("regions-h5|{}|{}|{}\x1e", path_, int64_t(st.st_size), int64_t(st.st_mtime)));
  }

  RegionFeatures read(const std::string& id, int feature_dim) const override {
    quiet_hdf5();
    const std::string where = fmt::format("'{}' /{}", path_, id);
    // HDF5 reads '/' as a path separator and '.' as the group itself.
    if (id.empty() || id == "." || id.find('/') != std::string::npos ||
        H5Lexists(file_.get(), id.c_str(), H5P_DEFAULT) <= 0) {
      throw missing(fmt::format("{}: no group for this post in the region file", where));
    }
    H5O_info_t info{};
    MMAUX_H5_CHECK(H5Oget_info_by_name(file_.get(), id.c_str(), &info, H5P_DEFAULT), where);
    if (info.type != H5O_TYPE_GROUP) throw invalid(fmt::format("{} is not a group", where));
    Handle group(MMAUX_H5_CHECK(H5Gopen2(file_.get(), id.c_str(), H5P_DEFAULT), where), H5Gclose);
    for (const char* name : {"roi_features", "normalized_boxes"}) {
      if (H5Lexists(group.get(), name, H5P_DEFAULT) <= 0) {
        throw invalid(fmt::format("{} has no dataset '{}'", where, name));
      }
    }
    Handle feats(MMAUX_H5_CHECK(H5Dopen2(group.get(), "roi_features", H5P_DEFAULT), where),
                 H5Dclose);
    Handle boxes(MMAUX_H5_CHECK(H5Dopen2(group.get(), "normalized_boxes", H5P_DEFAULT), where),
                 H5Dclose);
    const hsize_t n = region_rows(feats.get(), "roi_features", hsize_t(feature_dim), where);
    const hsize_t nb = region_rows(boxes.get(), "normalized_boxes", 4, where);
    if (n != nb) {
      throw invalid(
          fmt::format("{}: {} rows of roi_features but {} normalized_boxes", where, n, nb));
    }
    RegionFeatures r;
    r.count = int32_t(n);
    r.features = read_floats(feats.get(), size_t(n) * size_t(feature_dim), where);
    r.boxes = read_floats(boxes.get(), size_t(n) * 4, where);
    return r;
  }

 private:
  std::string path_;
  Handle file_;
};

}  // namespace

void validate_regions(const RegionFeatures& r, int feature_dim, const std::string& where) {
  MMAUX_ASSERT(r.count >= 0 && r.count <= kMaxRegions &&
                   r.features.size() == size_t(r.count) * size_t(feature_dim) &&
                   r.boxes.size() == size_t(r.count) * 4,
               "{}: {} regions with {} feature and {} box values", where, r.count,
               r.features.size(), r.boxes.size());
  for (size_t k = 0; k < r.features.size(); ++k) {
    if (!std::isfinite(r.features[k])) {
      throw invalid(fmt::format("{}: region {} feature {} is {} (not finite)", where,
                                k / size_t(feature_dim), k % size_t(feature_dim), r.features[k]));
    }
  }
  for (int32_t i = 0; i < r.count; ++i) {
    const float* b = &r.boxes[size_t(i) * 4];
    const bool finite =
        std::isfinite(b[0]) && std::isfinite(b[1]) && std::isfinite(b[2]) && std::isfinite(b[3]);
    const bool inside = finite && b[0] >= 0 && b[1] >= 0 && b[2] <= 1 && b[3] <= 1;
    if (!inside || b[2] < b[0] || b[3] < b[1]) {
      throw invalid(fmt::format(
          "{}: region {} box ({}, {}, {}, {}) is not a normalised (x1, y1, x2, y2) box: expected "
          "finite values in [0, 1] with x1 <= x2 and y1 <= y2",
          where, i, b[0], b[1], b[2], b[3]));
    }
  }
}

std::unique_ptr<RegionSource> open_region_h5(const std::string& path) {
  return std::make_unique<H5Source>(path);
}

// ---------------------------------------------------------------------------------------------
class RegionFileWriter::Impl {
 public:
  std::string path;
  Handle file;
};

RegionFileWriter::RegionFileWriter(const std::string& path) : impl_(std::make_unique<Impl>()) {
  quiet_hdf5();
  impl_->path = path;
  impl_->file =
      Handle(MMAUX_H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), path),
             H5Fclose);
}

RegionFileWriter::~RegionFileWriter() = default;

void RegionFileWriter::add(const std::string& post_id, const RegionFeatures& r, int feature_dim) {
  auto& m = *impl_;
  quiet_hdf5();
  MMAUX_CHECK(m.file.get() >= 0, "region file '{}' is closed", m.path);
  MMAUX_ASSERT(r.features.size() == size_t(r.count) * size_t(feature_dim) &&
                   r.boxes.size() == size_t(r.count) * 4,
               "post '{}': {} regions with {} feature and {} box values", post_id, r.count,
               r.features.size(), r.boxes.size());
  Handle group(
      MMAUX_H5_CHECK(
          H5Gcreate2(m.file.get(), post_id.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), m.path),
      H5Gclose);
  auto write = [&](const char* name, const std::vector<float>& v, hsize_t cols) {
    hsize_t dims[2] = {hsize_t(r.count), cols};
    Handle space(MMAUX_H5_CHECK(H5Screate_simple(2, dims, nullptr), m.path), H5Sclose);
    Handle ds(MMAUX_H5_CHECK(H5Dcreate2(group.get(), name, H5T_IEEE_F32LE, space.get(), H5P_DEFAULT,
                                        H5P_DEFAULT, H5P_DEFAULT),
                             m.path),
              H5Dclose);
    if (!v.empty()) {
      MMAUX_H5_CHECK(H5Dwrite(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()),
                     m.path);
    }
  };
  write("roi_features", r.features, hsize_t(feature_dim));
  write("normalized_boxes", r.boxes, 4);
}

void RegionFileWriter::close() {
  auto& m = *impl_;
  if (m.file.get() < 0) return;
  MMAUX_H5_CHECK(H5Fflush(m.file.get(), H5F_SCOPE_GLOBAL), m.path);
  m.file.reset();
}

}  // namespace mmaux::data
