#include "mmaux/data/shard.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "data/check_h5.h"
#include "mmaux/core/error.h"
#include "mmaux/core/hash.h"

namespace mmaux::data {
namespace {

using detail::Handle;
using detail::quiet_hdf5;

constexpr hsize_t kSmallChunk = 256;

Handle string_type() { return Handle(H5Tcopy(H5T_C_S1), H5Tclose); }

/// Creation properties of a new file, group or dataset without modification times, so that the
/// same content always makes the same bytes (shards compare across runs and numbers of ranks).
Handle object_properties(hid_t cls, const std::string& path) {
  Handle p(MMAUX_H5_CHECK(H5Pcreate(cls), path), H5Pclose);
  MMAUX_H5_CHECK(H5Pset_obj_track_times(p.get(), false), path);
  return p;
}

template <typename T>
void write_column(hid_t file, const char* name, hid_t type, const std::vector<T>& data,
                  hsize_t rows, hsize_t cols, const std::string& path) {
  hsize_t dims[2] = {rows, cols};
  int rank = cols == 0 ? 1 : 2;
  Handle space(MMAUX_H5_CHECK(H5Screate_simple(rank, dims, nullptr), path), H5Sclose);
  Handle dcpl = object_properties(H5P_DATASET_CREATE, path);
  if (rows > 0) {
    hsize_t chunk[2] = {std::min<hsize_t>(rows, kSmallChunk), cols};
    MMAUX_H5_CHECK(H5Pset_chunk(dcpl.get(), rank, chunk), path);
  }
  Handle ds(
      MMAUX_H5_CHECK(
          H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), path),
      H5Dclose);
  if (rows > 0) {
    MMAUX_H5_CHECK(H5Dwrite(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), path);
  }
}

void write_strings(hid_t loc, const char* name, const std::vector<std::string>& values,
                   const std::string& path) {
  Handle type = string_type();
  MMAUX_H5_CHECK(H5Tset_size(type.get(), H5T_VARIABLE), path);
  MMAUX_H5_CHECK(H5Tset_cset(type.get(), H5T_CSET_UTF8), path);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  write_column(loc, name, type.get(), ptrs, values.size(), 0, path);
}

/// The values a column declares, checked against what the file can hold before anything is
/// allocated: shards store every column uncompressed, so a column cannot declare more bytes than
/// the file has (a corrupt or hostile header would otherwise size the allocation).
size_t declared_values(hid_t space, size_t value_bytes, uint64_t file_bytes, const char* name,
                       const std::string& path) {
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  MMAUX_CHECK_DATA(n >= 0 && uint64_t(n) <= file_bytes / value_bytes,
                   "shard '{}': column '{}' declares {} values of {} bytes, more than the file's "
                   "{} bytes can hold (corrupt shard); re-run 'mmaux preprocess --force'",
                   path, name, n, value_bytes, file_bytes);
  return size_t(n);
}

std::vector<std::string> read_strings(hid_t loc, const char* name, uint64_t file_bytes,
                                      const std::string& path) {
  Handle ds(MMAUX_H5_CHECK(H5Dopen2(loc, name, H5P_DEFAULT), path), H5Dclose);
  Handle space(MMAUX_H5_CHECK(H5Dget_space(ds.get()), path), H5Sclose);
  // A variable-length string takes 16 bytes in the dataset (length and heap address).
  size_t n = declared_values(space.get(), 16, file_bytes, name, path);
  std::vector<char*> ptrs(n, nullptr);
  Handle type = string_type();
  MMAUX_H5_CHECK(H5Tset_size(type.get(), H5T_VARIABLE), path);
  MMAUX_H5_CHECK(H5Tset_cset(type.get(), H5T_CSET_UTF8), path);
  std::vector<std::string> out;
  if (n == 0) return out;
  MMAUX_H5_CHECK(H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), path);
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  H5Dvlen_reclaim(type.get(), space.get(), H5P_DEFAULT, ptrs.data());
  return out;
}

template <typename T>
std::vector<T> read_column(hid_t file, const char* name, hid_t type, size_t expect,
                           uint64_t file_bytes, const std::string& path) {
  Handle ds(MMAUX_H5_CHECK(H5Dopen2(file, name, H5P_DEFAULT), path), H5Dclose);
  Handle space(MMAUX_H5_CHECK(H5Dget_space(ds.get()), path), H5Sclose);
  size_t n = declared_values(space.get(), sizeof(T), file_bytes, name, path);
  MMAUX_CHECK_DATA(n == expect, "shard '{}': column '{}' has {} values, expected {}", path, name, n,
                   expect);
  std::vector<T> out(n);
  if (n > 0) {
    MMAUX_H5_CHECK(H5Dread(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), path);
  }
  return out;
}

int read_int_attr(hid_t file, const char* name, const std::string& path) {
  Handle a(MMAUX_H5_CHECK(H5Aopen(file, name, H5P_DEFAULT), path), H5Aclose);
  int v = 0;
  MMAUX_H5_CHECK(H5Aread(a.get(), H5T_NATIVE_INT, &v), path);
  return v;
}

void write_int_attr(hid_t file, const char* name, int value, const std::string& path) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(MMAUX_H5_CHECK(
               H5Acreate2(file, name, H5T_NATIVE_INT, space.get(), H5P_DEFAULT, H5P_DEFAULT), path),
           H5Aclose);
  MMAUX_H5_CHECK(H5Awrite(a.get(), H5T_NATIVE_INT, &value), path);
}

/// An extendible dataset of `row_elems` values per row, one row per chunk, that starts empty.
Handle create_row_dataset(hid_t file, const char* name, hid_t type, hsize_t row_elems,
                          const std::string& path) {
  hsize_t dims[2] = {0, row_elems};
  hsize_t maxdims[2] = {H5S_UNLIMITED, row_elems};
  hsize_t chunk[2] = {1, row_elems};
  Handle space(MMAUX_H5_CHECK(H5Screate_simple(2, dims, maxdims), path), H5Sclose);
  Handle dcpl = object_properties(H5P_DATASET_CREATE, path);
  MMAUX_H5_CHECK(H5Pset_chunk(dcpl.get(), 2, chunk), path);
  // Every chunk is written whole exactly once: no fill value writes needed.
  MMAUX_H5_CHECK(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), path);
  return Handle(
      MMAUX_H5_CHECK(
          H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), path),
      H5Dclose);
}

/// Appends row `row` (= the current number of rows) of a create_row_dataset dataset.
void append_row(hid_t ds, hid_t type, hsize_t row, hsize_t row_elems, const void* data,
                const std::string& path) {
  hsize_t dims[2] = {row + 1, row_elems};
  MMAUX_H5_CHECK(H5Dset_extent(ds, dims), path);
  Handle fspace(MMAUX_H5_CHECK(H5Dget_space(ds), path), H5Sclose);
  hsize_t start[2] = {row, 0};
  hsize_t count[2] = {1, row_elems};
  MMAUX_H5_CHECK(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
                 path);
  Handle mspace(H5Screate_simple(2, count, nullptr), H5Sclose);
  MMAUX_H5_CHECK(H5Dwrite(ds, type, mspace.get(), fspace.get(), H5P_DEFAULT, data), path);
}

/// The file offset of each of the `n` one-row chunks of `ds`, or nothing when any chunk is
/// filtered, of another size or unallocated (then the reader goes through HDF5).
std::vector<haddr_t> chunk_addresses(hid_t ds, size_t n, size_t chunk_bytes) {
  std::vector<haddr_t> addr(n);
  for (size_t r = 0; r < n; ++r) {
    hsize_t off[2] = {hsize_t(r), 0};
    unsigned mask = 0;
    hsize_t size = 0;
    if (H5Dget_chunk_info_by_coord(ds, off, &mask, &addr[r], &size) < 0 || mask != 0 ||
        size != chunk_bytes || addr[r] == HADDR_UNDEF) {
      return {};
    }
  }
  return addr;
}

/// Reads `bytes` bytes at `offset` of `fd`; false at an unexpected end of file or an error.
bool pread_all(int fd, void* out, size_t bytes, uint64_t offset) {
  size_t done = 0;
  while (done < bytes) {
    ssize_t got = ::pread(fd, static_cast<char*>(out) + done, bytes - done, off_t(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += size_t(got);
  }
  return true;
}

/// Reads `bytes` bytes of row `row` of a one-row-chunk dataset through HDF5.
void read_row_h5(hid_t ds, hid_t type, int64_t row, hsize_t elems, void* out,
                 const std::string& path) {
  Handle fspace(MMAUX_H5_CHECK(H5Dget_space(ds), path), H5Sclose);
  hsize_t start[2] = {hsize_t(row), 0};
  hsize_t count[2] = {1, elems};
  MMAUX_H5_CHECK(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
                 path);
  Handle mspace(H5Screate_simple(2, count, nullptr), H5Sclose);
  MMAUX_H5_CHECK(H5Dread(ds, type, mspace.get(), fspace.get(), H5P_DEFAULT, out), path);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
class ShardWriter::Impl {
 public:
  std::string path;
  int text_length;
  int max_h, max_w;
  hsize_t row_bytes;
  std::vector<std::string> meta_names;
  Handle file, pixels;
  int64_t rows = 0;
  std::vector<int32_t> ids, lengths, hw, labels, relation;
  std::vector<int64_t> index;
  std::vector<std::string> post_ids;
  std::vector<std::vector<std::string>> meta;
  std::vector<uint8_t> canvas;
  int region_dim = 0;  ///< 0: no region columns
  Handle regions;
  std::vector<float> region_canvas, region_boxes;
  std::vector<uint8_t> region_mask;
};

ShardWriter::ShardWriter(const std::string& path, int text_length, const ImagePreset& preset,
                         std::vector<std::string> meta_names, int region_dim)
    : impl_(std::make_unique<Impl>()) {
  quiet_hdf5();
  auto& m = *impl_;
  m.path = path;
  m.text_length = text_length;
  m.max_h = preset.storage_height();
  m.max_w = preset.storage_width();
  m.row_bytes = hsize_t(3 * preset.storage_pixels());
  m.meta_names = std::move(meta_names);
  m.meta.resize(m.meta_names.size());
  Handle fcpl = object_properties(H5P_FILE_CREATE, path);
  m.file =
      Handle(MMAUX_H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), path),
             H5Fclose);
  m.pixels = create_row_dataset(m.file.get(), "pixels", H5T_NATIVE_UINT8, m.row_bytes, path);
  m.canvas.resize(size_t(m.row_bytes));
  MMAUX_ASSERT(region_dim >= 0, "region_dim {} < 0", region_dim);
  m.region_dim = region_dim;
  if (region_dim > 0) {
    const hsize_t elems = hsize_t(kMaxRegions) * hsize_t(region_dim);
    m.regions = create_row_dataset(m.file.get(), "region_features", H5T_NATIVE_FLOAT, elems, path);
    m.region_canvas.resize(size_t(elems));
  }
}

ShardWriter::~ShardWriter() = default;

int64_t ShardWriter::rows() const { return impl_->rows; }

void ShardWriter::append_regions(const RegionFeatures& r) {
  auto& m = *impl_;
  const size_t F = size_t(m.region_dim), n = size_t(r.count);
  MMAUX_ASSERT(r.count >= 0 && r.count <= kMaxRegions && r.features.size() == n * F &&
                   r.boxes.size() == n * 4,
               "{} regions with {} feature and {} box values do not fit F = {}", r.count,
               r.features.size(), r.boxes.size(), F);
  std::copy(r.features.begin(), r.features.end(), m.region_canvas.begin());
  std::fill(m.region_canvas.begin() + std::ptrdiff_t(n * F), m.region_canvas.end(), 0.0f);
  append_row(m.regions.get(), H5T_NATIVE_FLOAT, hsize_t(m.rows), m.region_canvas.size(),
             m.region_canvas.data(), m.path);
  m.region_boxes.insert(m.region_boxes.end(), r.boxes.begin(), r.boxes.end());
  m.region_boxes.resize(m.region_boxes.size() + (kMaxRegions - n) * 4, 0.0f);
  for (int k = 0; k < kMaxRegions; ++k) m.region_mask.push_back(size_t(k) < n ? 1 : 0);
}

void ShardWriter::append(const Sample& s) {
  auto& m = *impl_;
  MMAUX_ASSERT(s.input_ids.size() == size_t(m.text_length), "input_ids has {} ids, shard L = {}",
               s.input_ids.size(), m.text_length);
  const size_t bytes = size_t(3) * s.height * s.width;
  MMAUX_ASSERT(s.height > 0 && s.width > 0 && s.height <= m.max_h && s.width <= m.max_w &&
                   bytes <= m.row_bytes && s.pixels.size() == bytes,
               "image {}x{} ({} bytes) does not fit rows of {} bytes, at most {}x{}", s.height,
               s.width, s.pixels.size(), m.row_bytes, m.max_h, m.max_w);
  MMAUX_ASSERT(s.meta.size() == m.meta_names.size(), "meta columns mismatch");
  std::memcpy(m.canvas.data(), s.pixels.data(), bytes);
  std::fill(m.canvas.begin() + bytes, m.canvas.end(), 0);
  append_row(m.pixels.get(), H5T_NATIVE_UINT8, hsize_t(m.rows), m.row_bytes, m.canvas.data(),
             m.path);
  if (m.region_dim > 0) append_regions(s.regions);
  m.ids.insert(m.ids.end(), s.input_ids.begin(), s.input_ids.end());
  m.lengths.push_back(s.length);
  m.hw.push_back(s.height);
  m.hw.push_back(s.width);
  m.labels.push_back(s.label);
  m.relation.push_back(s.relation);
  m.index.push_back(s.sample_index);
  m.post_ids.push_back(s.post_id);
  for (size_t k = 0; k < s.meta.size(); ++k) m.meta[k].push_back(s.meta[k]);
  ++m.rows;
}

ShardInfo ShardWriter::finish(bool checksum) {
  auto& m = *impl_;
  hid_t f = m.file.get();
  hsize_t n = hsize_t(m.rows);
  write_int_attr(f, "schema_version", kManifestSchemaVersion, m.path);
  write_int_attr(f, "text_length", m.text_length, m.path);
  write_column(f, "input_ids", H5T_NATIVE_INT32, m.ids, n, hsize_t(m.text_length), m.path);
  write_column(f, "lengths", H5T_NATIVE_INT32, m.lengths, n, 0, m.path);
  write_column(f, "image_hw", H5T_NATIVE_INT32, m.hw, n, 2, m.path);
  write_column(f, "labels", H5T_NATIVE_INT32, m.labels, n, 0, m.path);
  write_column(f, "relation", H5T_NATIVE_INT32, m.relation, n, 0, m.path);
  write_column(f, "sample_index", H5T_NATIVE_INT64, m.index, n, 0, m.path);
  write_strings(f, "post_ids", m.post_ids, m.path);
  Handle gcpl = object_properties(H5P_GROUP_CREATE, m.path);
  Handle group(MMAUX_H5_CHECK(H5Gcreate2(f, "meta", H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), m.path),
               H5Gclose);
  for (size_t k = 0; k < m.meta_names.size(); ++k) {
    write_strings(group.get(), m.meta_names[k].c_str(), m.meta[k], m.path);
  }
  group.reset();
  if (m.region_dim > 0) {
    write_int_attr(f, "region_max", kMaxRegions, m.path);
    write_int_attr(f, "region_dim", m.region_dim, m.path);
    write_column(f, "region_boxes", H5T_NATIVE_FLOAT, m.region_boxes, n, hsize_t(kMaxRegions) * 4,
                 m.path);
    write_column(f, "region_mask", H5T_NATIVE_UINT8, m.region_mask, n, hsize_t(kMaxRegions),
                 m.path);
    m.regions.reset();
  }
  m.pixels.reset();
  MMAUX_H5_CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL), m.path);
  m.file.reset();
  ShardInfo info;
  info.file = std::filesystem::path(m.path).filename().string();
  info.rows = m.rows;
  info.bytes = static_cast<int64_t>(std::filesystem::file_size(m.path));
  if (checksum) info.sha256 = sha256_file(m.path);
  return info;
}

void rebase_sample_index(const std::string& path, int64_t first) {
  quiet_hdf5();
  Handle file(MMAUX_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), path), H5Fclose);
  Handle ds(MMAUX_H5_CHECK(H5Dopen2(file.get(), "sample_index", H5P_DEFAULT), path), H5Dclose);
  Handle space(MMAUX_H5_CHECK(H5Dget_space(ds.get()), path), H5Sclose);
  const auto n = size_t(H5Sget_simple_extent_npoints(space.get()));
  std::vector<int64_t> index(n);
  if (n == 0) return;
  MMAUX_H5_CHECK(H5Dread(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, index.data()),
                 path);
  for (size_t i = 0; i < n; ++i) {
    MMAUX_ASSERT(index[i] == int64_t(i), "shard '{}' row {} has sample index {} before rebasing",
                 path, i, index[i]);
    index[i] = first + int64_t(i);
  }
  MMAUX_H5_CHECK(H5Dwrite(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, index.data()),
                 path);
  MMAUX_H5_CHECK(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), path);
}

// ---------------------------------------------------------------------------------------------
class ShardReader::Impl {
 public:
  std::string path;
  int64_t rows = 0;
  int text_length = 0;
  hsize_t row_bytes = 0;
  uint64_t file_bytes = 0;
  std::vector<int32_t> ids, lengths, hw, labels, relation;
  std::vector<int64_t> index;
  std::vector<std::string> post_ids;
  Handle file, pixels;
  int fd = -1;
  std::vector<haddr_t> chunk_addr;     ///< file offset of each row's pixel chunk (empty: use HDF5)
  int region_max = 0, region_dim = 0;  ///< 0: no region columns
  Handle regions;
  std::vector<float> region_boxes;
  std::vector<uint8_t> region_mask;
  std::vector<haddr_t> region_addr;  ///< as chunk_addr, for region_features
  void open_regions();
  ~Impl() {
    if (fd >= 0) ::close(fd);
  }
};

ShardReader::ShardReader(const std::string& path, bool direct_reads)
    : impl_(std::make_unique<Impl>()) {
  quiet_hdf5();
  auto& m = *impl_;
  m.path = path;
  MMAUX_CHECK_DATA(std::filesystem::exists(path), "shard '{}' does not exist", path);
  htri_t is_h5 = H5Fis_hdf5(path.c_str());
  MMAUX_CHECK_DATA(is_h5 > 0,
                   "shard '{}' is not an HDF5 file (truncated or overwritten?); "
                   "re-run 'mmaux preprocess --force'",
                   path);
  m.file =
      Handle(MMAUX_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path), H5Fclose);
  hid_t f = m.file.get();
  int version = read_int_attr(f, "schema_version", path);
  MMAUX_CHECK_DATA(version == kManifestSchemaVersion,
                   "shard '{}' has schema version {}, expected {}; re-run 'mmaux preprocess "
                   "--force'",
                   path, version, kManifestSchemaVersion);
  m.text_length = read_int_attr(f, "text_length", path);
  m.pixels = Handle(MMAUX_H5_CHECK(H5Dopen2(f, "pixels", H5P_DEFAULT), path), H5Dclose);
  Handle space(MMAUX_H5_CHECK(H5Dget_space(m.pixels.get()), path), H5Sclose);
  hsize_t dims[2];
  MMAUX_CHECK_DATA(H5Sget_simple_extent_ndims(space.get()) == 2,
                   "shard '{}': pixels is not 2-dimensional", path);
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  m.rows = int64_t(dims[0]);
  m.row_bytes = dims[1];
  // Every count below comes from the file's headers: each is bounded by the file's size before
  // it sizes an allocation (the lengths column takes 4 bytes per row).
  m.file_bytes = std::filesystem::file_size(path);
  MMAUX_CHECK_DATA(dims[0] <= m.file_bytes / 4 && m.text_length > 0 &&
                       uint64_t(m.text_length) <= m.file_bytes / 4,
                   "shard '{}' declares {} rows of text length {}, more than its {} bytes can "
                   "hold (corrupt shard); re-run 'mmaux preprocess --force'",
                   path, dims[0], m.text_length, m.file_bytes);
  size_t n = size_t(m.rows);
  MMAUX_CHECK_DATA(n <= m.file_bytes / 4 / size_t(m.text_length),
                   "shard '{}': {} rows of {} token ids do not fit its {} bytes (corrupt shard)",
                   path, n, m.text_length, m.file_bytes);
  const uint64_t fb = m.file_bytes;
  m.ids = read_column<int32_t>(f, "input_ids", H5T_NATIVE_INT32, n * m.text_length, fb, path);
  m.lengths = read_column<int32_t>(f, "lengths", H5T_NATIVE_INT32, n, fb, path);
  m.hw = read_column<int32_t>(f, "image_hw", H5T_NATIVE_INT32, 2 * n, fb, path);
  m.labels = read_column<int32_t>(f, "labels", H5T_NATIVE_INT32, n, fb, path);
  m.relation = read_column<int32_t>(f, "relation", H5T_NATIVE_INT32, n, fb, path);
  m.index = read_column<int64_t>(f, "sample_index", H5T_NATIVE_INT64, n, fb, path);
  m.post_ids = read_strings(f, "post_ids", fb, path);
  MMAUX_CHECK_DATA(m.post_ids.size() == n, "shard '{}': {} post ids for {} rows", path,
                   m.post_ids.size(), n);
  if (H5Aexists(f, "region_dim") > 0) m.open_regions();
  // Uncompressed one-sample chunks can be read with pread, concurrently and without HDF5's global
  // lock. Any chunk that is filtered or of an unexpected size makes the reader use HDF5 instead.
  if (!direct_reads) return;
  auto pixel_addr = chunk_addresses(m.pixels.get(), n, size_t(m.row_bytes));
  std::vector<haddr_t> region_addr;
  if (m.region_dim > 0) {
    region_addr = chunk_addresses(m.regions.get(), n,
                                  size_t(m.region_max) * size_t(m.region_dim) * sizeof(float));
  }
  if (pixel_addr.empty() && region_addr.empty()) return;
  m.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m.fd < 0) return;
  m.chunk_addr = std::move(pixel_addr);
  m.region_addr = std::move(region_addr);
}

// The region columns, each count checked against the file's size before it sizes anything.
void ShardReader::Impl::open_regions() {
  hid_t f = file.get();
  region_max = read_int_attr(f, "region_max", path);
  region_dim = read_int_attr(f, "region_dim", path);
  const uint64_t row_bytes =
      uint64_t(std::max(region_max, 0)) * uint64_t(std::max(region_dim, 0)) * 4;
  MMAUX_CHECK_DATA(region_max >= 1 && region_max <= kMaxRegions && region_dim >= 1 &&
                       region_dim <= (1 << 20) && uint64_t(rows) * row_bytes <= file_bytes,
                   "shard '{}' declares {} regions of {} features per row, which its {} rows and "
                   "{} bytes cannot hold (corrupt shard); re-run 'mmaux preprocess --force'",
                   path, region_max, region_dim, rows, file_bytes);
  regions = Handle(MMAUX_H5_CHECK(H5Dopen2(f, "region_features", H5P_DEFAULT), path), H5Dclose);
  Handle space(MMAUX_H5_CHECK(H5Dget_space(regions.get()), path), H5Sclose);
  hsize_t dims[2] = {0, 0};
  MMAUX_CHECK_DATA(H5Sget_simple_extent_ndims(space.get()) == 2 &&
                       H5Sget_simple_extent_dims(space.get(), dims, nullptr) == 2 &&
                       dims[0] == hsize_t(rows) && dims[1] == row_bytes / 4,
                   "shard '{}': region_features is [{}, {}], expected [{}, {}] (corrupt shard)",
                   path, dims[0], dims[1], rows, row_bytes / 4);
  const size_t n = size_t(rows), R = size_t(region_max);
  region_boxes =
      read_column<float>(f, "region_boxes", H5T_NATIVE_FLOAT, n * R * 4, file_bytes, path);
  region_mask = read_column<uint8_t>(f, "region_mask", H5T_NATIVE_UINT8, n * R, file_bytes, path);
}

ShardReader::~ShardReader() = default;

int64_t ShardReader::rows() const { return impl_->rows; }
int ShardReader::text_length() const { return impl_->text_length; }
int64_t ShardReader::pixel_row_bytes() const { return int64_t(impl_->row_bytes); }
const std::vector<int32_t>& ShardReader::input_ids() const { return impl_->ids; }
const std::vector<int32_t>& ShardReader::lengths() const { return impl_->lengths; }
const std::vector<int32_t>& ShardReader::image_hw() const { return impl_->hw; }
const std::vector<int32_t>& ShardReader::labels() const { return impl_->labels; }
const std::vector<int32_t>& ShardReader::relation() const { return impl_->relation; }
const std::vector<int64_t>& ShardReader::sample_index() const { return impl_->index; }
const std::vector<std::string>& ShardReader::post_ids() const { return impl_->post_ids; }

std::vector<std::string> ShardReader::meta(const std::string& name) const {
  auto& m = *impl_;
  std::string full = "meta/" + name;
  MMAUX_CHECK_DATA(H5Lexists(m.file.get(), "meta", H5P_DEFAULT) > 0 &&
                       H5Lexists(m.file.get(), full.c_str(), H5P_DEFAULT) > 0,
                   "shard '{}' has no meta column '{}'", m.path, name);
  return read_strings(m.file.get(), full.c_str(), m.file_bytes, m.path);
}

std::vector<std::string> ShardReader::meta_names() const {
  auto& m = *impl_;
  std::vector<std::string> out;
  if (H5Lexists(m.file.get(), "meta", H5P_DEFAULT) <= 0) return out;
  Handle g(MMAUX_H5_CHECK(H5Gopen2(m.file.get(), "meta", H5P_DEFAULT), m.path), H5Gclose);
  H5G_info_t info;
  MMAUX_H5_CHECK(H5Gget_info(g.get(), &info), m.path);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char name[256];
    ssize_t len = H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name,
                                     sizeof(name), H5P_DEFAULT);
    if (len > 0) out.emplace_back(name, size_t(std::min<ssize_t>(len, 255)));
  }
  return out;
}

void ShardReader::read_pixels(int64_t row, uint8_t* out, int64_t nbytes) const {
  auto& m = *impl_;
  MMAUX_ASSERT(row >= 0 && row < m.rows, "row {} outside shard of {} rows", row, m.rows);
  MMAUX_ASSERT(nbytes >= 0 && hsize_t(nbytes) <= m.row_bytes, "{} bytes from rows of {}", nbytes,
               m.row_bytes);
  size_t bytes = size_t(nbytes);
  if (!m.chunk_addr.empty()) {
    errno = 0;
    MMAUX_CHECK_DATA(pread_all(m.fd, out, bytes, m.chunk_addr[row]),
                     "shard '{}': reading the pixels of row {} failed: {}", m.path, row,
                     errno != 0 ? std::strerror(errno) : "unexpected end of file");
    return;
  }
  quiet_hdf5();
  read_row_h5(m.pixels.get(), H5T_NATIVE_UINT8, row, hsize_t(bytes), out, m.path);
}

bool ShardReader::has_regions() const { return impl_->region_dim > 0; }
int ShardReader::region_max() const { return impl_->region_max; }
int ShardReader::region_dim() const { return impl_->region_dim; }
const std::vector<float>& ShardReader::region_boxes() const { return impl_->region_boxes; }
const std::vector<uint8_t>& ShardReader::region_mask() const { return impl_->region_mask; }

void ShardReader::read_region_features(int64_t row, float* out) const {
  auto& m = *impl_;
  MMAUX_ASSERT(m.region_dim > 0, "shard '{}' has no region features", m.path);
  MMAUX_ASSERT(row >= 0 && row < m.rows, "row {} outside shard of {} rows", row, m.rows);
  const size_t elems = size_t(m.region_max) * size_t(m.region_dim);
  if (!m.region_addr.empty()) {
    errno = 0;
    MMAUX_CHECK_DATA(pread_all(m.fd, out, elems * sizeof(float), m.region_addr[row]),
                     "shard '{}': reading the region features of row {} failed: {}", m.path, row,
                     errno != 0 ? std::strerror(errno) : "unexpected end of file");
    return;
  }
  quiet_hdf5();
  read_row_h5(m.regions.get(), H5T_NATIVE_FLOAT, row, hsize_t(elems), out, m.path);
}

}  // namespace mmaux::data
