#include "mmaux/data/loader.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "mmaux/core/error.h"
#include "mmaux/core/hash.h"
#include "mmaux/data/input_spec.h"
#include "mmaux/data/shard.h"

namespace mmaux::data {
namespace {

/// Recycles the large per-batch buffers (pixels, pixel mask). A fresh multi-megabyte allocation
/// is fresh pages from the kernel, and their page faults cost more than filling them; batches
/// are built on worker threads and freed on the consumer's, so malloc does not recycle them well.
/// Tensors keep the pool alive through their deleters, so they may outlive the loader.
class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  explicit BufferPool(size_t keep) : keep_(keep) {}
  ~BufferPool() {
    for (auto& [bytes, list] : free_) {
      for (void* p : list) std::free(p);
    }
  }

  /// An uninitialised tensor of `sizes` whose storage returns to this pool.
  at::Tensor empty(at::IntArrayRef sizes, at::ScalarType type) {
    size_t bytes = at::elementSize(type);
    for (auto s : sizes) bytes *= size_t(s);
    bytes = std::max<size_t>(bytes, 64);
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& list = free_[bytes];
      if (!list.empty()) {
        p = list.back();
        list.pop_back();
      }
    }
    if (p == nullptr) p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    MMAUX_CHECK(p != nullptr, "loader: out of memory allocating {} bytes for a batch", bytes);
    auto self = shared_from_this();
    return at::from_blob(
        p, sizes, [self, bytes](void* q) { self->give_back(q, bytes); },
        at::TensorOptions().dtype(type));
  }

 private:
  void give_back(void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& list = free_[bytes];
    if (list.size() < keep_) {
      list.push_back(p);
    } else {
      std::free(p);
    }
  }
  size_t keep_;
  std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
};

// Every value of a shard's small columns that sizes a buffer or indexes a table, against the
// manifest: the image size against the preset's storage (a corrupt shard must not size an
// allocation), token lengths, labels and relations against their ranges.
void check_rows(const ShardReader& r, const Manifest& m, const std::string& path) {
  const ImagePreset& preset = m.image_preset();
  const int64_t classes = m.num_classes();
  const int64_t relations = int64_t(m.relation_names().size());
  for (int64_t row = 0; row < r.rows(); ++row) {
    const int32_t h = r.image_hw()[2 * row], w = r.image_hw()[2 * row + 1];
    const int32_t label = r.labels()[row], relation = r.relation()[row];
    const int32_t length = r.lengths()[row];
    MMAUX_CHECK_DATA(
        h > 0 && w > 0 && h <= preset.storage_height() && w <= preset.storage_width() &&
            3 * int64_t(h) * w <= r.pixel_row_bytes(),
        "shard '{}' row {}: image {}x{} does not fit the preset {} (rows of {} bytes); "
        "corrupt shard, re-run 'mmaux preprocess --force'",
        path, row, h, w, preset.to_string(), r.pixel_row_bytes());
    // An unlabeled data set stores -1 for every label.
    const bool label_ok = m.labelled() ? label >= 0 && label < classes : label == -1;
    MMAUX_CHECK_DATA(label_ok && relation >= -1 && relation < relations && length >= 0 &&
                         length <= r.text_length(),
                     "shard '{}' row {}: label {}, relation {} or text length {} outside the "
                     "manifest's {} classes{}, {} relations and length {}; corrupt shard, re-run "
                     "'mmaux preprocess --force'",
                     path, row, label, relation, length, classes,
                     m.labelled() ? "" : " (unlabeled: -1)", relations, r.text_length());
  }
}

// The shard holds region features exactly when the manifest says so, of the manifest's shape,
// with a 0/1 mask.
void check_regions(const ShardReader& r, const Manifest& m, const std::string& path) {
  const RegionInfo& info = m.regions();
  MMAUX_CHECK_DATA(r.has_regions() == m.has_regions() &&
                       (!m.has_regions() ||
                        (r.region_max() == info.max_regions && r.region_dim() == info.feature_dim)),
                   "shard '{}' has {} region features of dimension {}, the manifest says {} of "
                   "dimension {}; re-run 'mmaux preprocess --force'",
                   path, r.region_max(), r.region_dim(), info.max_regions, info.feature_dim);
  for (uint8_t v : r.region_mask()) {
    MMAUX_CHECK_DATA(v <= 1, "shard '{}': region mask value {} is not 0 or 1 (corrupt shard)", path,
                     int(v));
  }
}

}  // namespace

/// Reads the split's small columns once, streams pixels per sample, and runs a small pool of
/// workers that build whole batches ahead of the consumer.
class Loader::Impl {
 public:
  struct Plan {
    std::shared_ptr<const std::vector<int64_t>> order;
    int64_t epoch = 0;
    int64_t step = 0;
  };

  Impl(const Manifest& manifest, const LoaderOptions& o) : options(o) {
    const SplitInfo& info = manifest.split(o.split);
    preset = manifest.image_preset();
    text_length = manifest.text_max_length();
    region_max = manifest.regions().max_regions;
    region_dim = manifest.regions().feature_dim;
    for (const auto& sh : info.shards) {
      auto path = (std::filesystem::path(manifest.dir()) / sh.file).string();
      readers.push_back(std::make_unique<ShardReader>(path));
      const auto& r = *readers.back();
      MMAUX_CHECK_DATA(r.rows() == sh.rows && r.text_length() == text_length,
                       "shard '{}' holds {} rows of text length {}, the manifest says {} rows of "
                       "length {}; re-run 'mmaux preprocess --force'",
                       path, r.rows(), r.text_length(), sh.rows, text_length);
      check_rows(r, manifest, path);
      check_regions(r, manifest, path);
      for (int64_t row = 0; row < r.rows(); ++row) {
        MMAUX_CHECK_DATA(r.sample_index()[row] == int64_t(where.size()),
                         "shard '{}' row {} has sample index {}, expected {}", path, row,
                         r.sample_index()[row], where.size());
        where.emplace_back(int(readers.size() - 1), row);
      }
    }
    n = int64_t(where.size());
    lut = pixel_table(preset);
    pool_buffers = std::make_shared<BufferPool>(size_t(o.prefetch) + 4);
    int workers = o.prefetch > 0 ? std::max(1, o.threads) : 0;
    for (int t = 0; t < workers; ++t) pool.emplace_back([this] { work(); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stopping = true;
      tasks.clear();
    }
    cv.notify_all();
    for (auto& t : pool) t.join();
  }

  Batch build(const Plan& plan) const;
  void fill_regions(Batch& b, const std::vector<int64_t>& samples) const;

  std::shared_future<Batch> submit(const Plan& plan) {
    auto task = std::make_shared<std::packaged_task<Batch()>>([this, plan] { return build(plan); });
    std::shared_future<Batch> f = task->get_future().share();
    {
      std::lock_guard<std::mutex> lock(mu);
      tasks.emplace_back([task] { (*task)(); });
    }
    cv.notify_one();
    return f;
  }

  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [this] { return stopping || !tasks.empty(); });
        if (stopping) return;
        job = std::move(tasks.front());
        tasks.pop_front();
      }
      job();
    }
  }

  LoaderOptions options;
  ImagePreset preset;
  int64_t text_length = 0;
  int64_t region_max = 0, region_dim = 0;  ///< 0: no regions
  int64_t n = 0;
  std::vector<std::unique_ptr<ShardReader>> readers;
  std::vector<std::pair<int, int64_t>> where;  ///< sample index -> (shard, row)
  PixelTable lut;                              ///< per channel
  std::shared_ptr<BufferPool> pool_buffers;

  std::shared_ptr<const std::vector<int64_t>> order;  ///< current epoch's order
  int64_t order_epoch = -1;
  std::deque<std::pair<int64_t, std::shared_future<Batch>>> ahead;  ///< (step, batch)

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> tasks;
  bool stopping = false;
  std::vector<std::thread> pool;
};

Batch Loader::Impl::build(const Plan& plan) const {
  const auto& ord = *plan.order;
  const int64_t B = options.global_batch_size;
  const int64_t begin = plan.step * B;
  const int64_t rows = std::min(B, n - begin);
  auto [offset, count] = rank_share(rows, options.rank, options.world_size);
  // Variable-size images are padded to the largest image of the whole global batch, so that the
  // tensors do not depend on the world size.
  int H = preset.storage_height(), W = preset.storage_width();
  if (preset.variable_size()) {
    H = W = 1;
    for (int64_t k = 0; k < rows; ++k) {
      auto [s, r] = where[ord[begin + k]];
      H = std::max(H, readers[s]->image_hw()[2 * r]);
      W = std::max(W, readers[s]->image_hw()[2 * r + 1]);
    }
  }
  Batch b;
  b.global_batch_size = rows;
  b.row_offset = offset;
  const int64_t L = text_length;
  b.input_ids = at::empty({count, L}, at::kLong);
  b.attention_mask = at::zeros({count, L}, at::kLong);
  b.pixels = pool_buffers->empty({count, 3, H, W}, at::kFloat);
  b.pixel_mask = pool_buffers->empty({count, H, W}, at::kLong);
  std::fill(b.pixel_mask.data_ptr<int64_t>(), b.pixel_mask.data_ptr<int64_t>() + count * H * W,
            int64_t(0));
  b.labels = at::empty({count}, at::kLong);
  b.relation = at::empty({count}, at::kLong);
  b.global_row = at::arange(offset, offset + count, at::kLong);
  b.sample_index = at::empty({count}, at::kLong);
  auto* ids = b.input_ids.data_ptr<int64_t>();
  auto* mask = b.attention_mask.data_ptr<int64_t>();
  auto* px = b.pixels.data_ptr<float>();
  auto* pm = b.pixel_mask.data_ptr<int64_t>();
  std::vector<uint8_t> canvas;
  for (int64_t i = 0; i < count; ++i) {
    int64_t sample = ord[begin + offset + i];
    auto [s, r] = where[sample];
    const ShardReader& rd = *readers[s];
    const int32_t* src_ids = &rd.input_ids()[r * L];
    for (int64_t t = 0; t < L; ++t) ids[i * L + t] = src_ids[t];
    for (int64_t t = 0; t < std::min<int64_t>(rd.lengths()[r], L); ++t) mask[i * L + t] = 1;
    b.labels.data_ptr<int64_t>()[i] = rd.labels()[r];
    b.relation.data_ptr<int64_t>()[i] = rd.relation()[r];
    b.sample_index.data_ptr<int64_t>()[i] = sample;
    b.post_ids.push_back(rd.post_ids()[r]);
    const int h = rd.image_hw()[2 * r], w = rd.image_hw()[2 * r + 1];
    const size_t plane = size_t(h) * w;
    canvas.resize(3 * plane);
    rd.read_pixels(r, canvas.data(), int64_t(3 * plane));
    float* dst = px + i * 3 * H * W;
    if (h != H || w != W) std::fill(dst, dst + size_t(3) * H * W, 0.0f);
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < h && y < H; ++y) {
        const uint8_t* srow = &canvas[c * plane + size_t(y) * w];
        float* drow = dst + (size_t(c) * H + y) * W;
        for (int x = 0; x < w && x < W; ++x) drow[x] = lut[c][srow[x]];
      }
    }
    int64_t* mrow = pm + i * H * W;
    for (int y = 0; y < std::min(h, H); ++y)
      std::fill(mrow + y * W, mrow + y * W + std::min(w, W), 1);
  }
  if (region_dim > 0) {
    fill_regions(b, std::vector<int64_t>(b.sample_index.data_ptr<int64_t>(),
                                         b.sample_index.data_ptr<int64_t>() + count));
  }
  return b;
}

void Loader::Impl::fill_regions(Batch& b, const std::vector<int64_t>& samples) const {
  const int64_t count = int64_t(samples.size()), R = region_max, F = region_dim;
  b.region_features = pool_buffers->empty({count, R, F}, at::kFloat);
  b.region_boxes = at::empty({count, R, 4}, at::kFloat);
  b.region_mask = at::empty({count, R}, at::kLong);
  float* feats = b.region_features.data_ptr<float>();
  float* boxes = b.region_boxes.data_ptr<float>();
  int64_t* mask = b.region_mask.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    auto [s, r] = where[samples[size_t(i)]];
    const ShardReader& rd = *readers[s];
    rd.read_region_features(r, feats + i * R * F);
    std::copy_n(&rd.region_boxes()[size_t(r * R * 4)], R * 4, boxes + i * R * 4);
    const uint8_t* m = &rd.region_mask()[size_t(r * R)];
    for (int64_t k = 0; k < R; ++k) mask[i * R + k] = m[k];
  }
}

// ---------------------------------------------------------------------------------------------
Loader::Loader(const Manifest& manifest, const LoaderOptions& options)
    : manifest_(manifest), options_(options) {
  MMAUX_CHECK_CONFIG(options.global_batch_size >= 1, "loader: global batch size {} must be >= 1",
                     options.global_batch_size);
  MMAUX_CHECK_CONFIG(
      options.world_size >= 1 && options.rank >= 0 && options.rank < options.world_size,
      "loader: rank {} is outside world size {}", options.rank, options.world_size);
  MMAUX_CHECK_CONFIG(options.prefetch >= 0 && options.threads >= 1,
                     "loader: prefetch {} must be >= 0 and threads {} >= 1", options.prefetch,
                     options.threads);
  impl_ = std::make_unique<Impl>(manifest_, options_);
  start_epoch(0, 0);
}

Loader::~Loader() = default;

int64_t Loader::split_size() const { return impl_->n; }

int64_t Loader::steps_per_epoch() const {
  int64_t n = impl_->n, b = options_.global_batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void Loader::start_epoch(int64_t epoch, int64_t step) {
  MMAUX_CHECK_CONFIG(epoch >= 0 && step >= 0 && step <= steps_per_epoch(),
                     "loader: cannot start at epoch {} step {} (steps per epoch: {})", epoch, step,
                     steps_per_epoch());
  auto& m = *impl_;
  {
    // Queued batches of the old position are dropped; running ones finish and are discarded.
    std::lock_guard<std::mutex> lock(m.mu);
    m.tasks.clear();
  }
  m.ahead.clear();
  if (m.order_epoch != epoch) {
    m.order = std::make_shared<const std::vector<int64_t>>(
        epoch_order(m.n, options_.seed, epoch, options_.shuffle));
    m.order_epoch = epoch;
  }
  cursor_ = Cursor{epoch, step};
}

std::optional<Batch> Loader::next() {
  auto& m = *impl_;
  const int64_t steps = steps_per_epoch();
  if (cursor_.step >= steps) return std::nullopt;
  Impl::Plan plan{m.order, cursor_.epoch, cursor_.step};
  Batch out;
  if (options_.prefetch == 0) {
    out = m.build(plan);
  } else {
    int64_t next_step = m.ahead.empty() ? cursor_.step : m.ahead.back().first + 1;
    while (next_step < steps && next_step <= cursor_.step + options_.prefetch) {
      m.ahead.emplace_back(next_step, m.submit(Impl::Plan{m.order, cursor_.epoch, next_step}));
      ++next_step;
    }
    MMAUX_ASSERT(!m.ahead.empty() && m.ahead.front().first == cursor_.step,
                 "prefetch queue out of step");
    auto fut = m.ahead.front().second;
    m.ahead.pop_front();
    out = fut.get();  // rethrows a worker's DataError
  }
  ++cursor_.step;
  return out;
}

std::vector<int64_t> Loader::epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order(size_t(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (!shuffle) return order;
  SplitMix64 rng(mix_seed(seed, uint64_t(epoch), 0x6c6f61646572ULL));
  for (int64_t i = n - 1; i > 0; --i) {
    auto j = int64_t(rng.below(uint64_t(i + 1)));
    std::swap(order[i], order[j]);
  }
  return order;
}

std::pair<int64_t, int64_t> Loader::rank_share(int64_t rows, int rank, int world_size) {
  int64_t base = rows / world_size, extra = rows % world_size;
  int64_t count = base + (rank < extra ? 1 : 0);
  int64_t offset = rank * base + std::min<int64_t>(rank, extra);
  return {offset, count};
}

LoaderOptions training_loader_options(const DataOptions& data, uint64_t seed, int rank,
                                      int world_size) {
  LoaderOptions o;
  o.split = "train";
  o.global_batch_size = data.batch_size;
  o.drop_last = data.drop_last;
  o.shuffle = true;
  o.seed = seed;
  o.prefetch = data.prefetch;
  o.threads = data.loader_threads;
  o.rank = rank;
  o.world_size = world_size;
  return o;
}

LoaderOptions evaluation_loader_options(const DataOptions& data, const std::string& split, int rank,
                                        int world_size) {
  LoaderOptions o = training_loader_options(data, 0, rank, world_size);
  o.split = split;
  o.global_batch_size = data.eval_batch_size;
  o.drop_last = false;
  o.shuffle = false;
  return o;
}

}  // namespace mmaux::data
