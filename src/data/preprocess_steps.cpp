#include "data/preprocess_steps.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <unordered_set>

#include "mmaux/core/error.h"
#include "mmaux/core/hash.h"
#include "mmaux/core/strings.h"
#include "mmaux/core/worker_pool.h"
#include "mmaux/data/input_spec.h"
#include "mmaux/data/shard.h"

namespace fs = std::filesystem;

namespace mmaux::data::detail {

Context make_context(const PreprocessOptions& o, const RawDataset& raw,
                     const RegionSource* regions) {
  Context ctx;
  ctx.options = &o;
  ctx.raw = &raw;
  ModelDirectory model = read_model_directory(o.model);
  ctx.tokenizer = Tokenizer::load(model.tokenizer_dir);
  ctx.max_length = model.max_text_length;
  if (!o.image_preset.empty()) {
    ctx.preset = ImagePreset::parse(o.image_preset);
  } else {
    MMAUX_CHECK_CONFIG(model.has_image_preset,
                       "model directory '{}' names no image size (config.json image_size or "
                       "model_type vilt); give --image-preset, e.g. fixed:224",
                       o.model);
    ctx.preset = model.image_preset;
  }
  ctx.limits.max_pixels = o.max_image_pixels;
  ctx.limits.max_bytes = o.max_image_bytes;
  for (size_t c = 0; c < raw.class_names.size(); ++c) ctx.class_id[raw.class_names[c]] = int(c);
  for (size_t c = 0; c < raw.relation_names.size(); ++c) {
    ctx.relation_id[raw.relation_names[c]] = int(c);
  }
  ctx.regions = regions;
  ctx.region_dim = regions != nullptr ? model.visual_feat_dim : 0;
  return ctx;
}

std::string Unit::file() const { return fmt::format("{}-{:05d}.h5", split, k); }

namespace {

struct Result {
  bool ok = false;
  SkipRecord skip;
  Sample sample;
  bool repaired = false;
  bool truncated = false;
};

Result process(const Context& ctx, const RawPost& p) {
  Result r;
  auto skip = [&](const char* reason, std::string detail) {
    r.skip = SkipRecord{p.post_id, p.source, reason, std::move(detail)};
    return r;
  };
  PreparedText text = prepare_text(p.text, *ctx.tokenizer, ctx.max_length);
  if (!text.ok) return skip(text.reason.c_str(), text.detail);
  r.repaired = text.repaired;
  Encoding enc = std::move(text.encoding);
  r.truncated = enc.truncated;
  try {
    Image img = load_image((fs::path(ctx.raw->raw_dir) / p.image).string(), ctx.preset, ctx.limits);
    r.sample.pixels = std::move(img.pixels);
    r.sample.height = img.height;
    r.sample.width = img.width;
  } catch (const ImageError& e) {
    return skip(e.reason().c_str(), e.what());
  }
  if (ctx.regions != nullptr) {
    try {
      r.sample.regions = ctx.regions->read(p.post_id, ctx.region_dim);
      validate_regions(
          r.sample.regions, ctx.region_dim,
          fmt::format("{} '{}' post '{}'", ctx.regions->kind(), ctx.regions->path(), p.post_id));
    } catch (const RegionError& e) {
      return skip(e.reason().c_str(), e.what());
    }
  }
  r.sample.post_id = p.post_id;
  r.sample.input_ids = std::move(enc.ids);
  r.sample.length = enc.length;
  r.sample.label = ctx.raw->labelled ? ctx.class_id.at(p.label) : -1;
  r.sample.relation = p.relation.empty() ? -1 : ctx.relation_id.at(p.relation);
  r.sample.meta = p.meta;
  r.ok = true;
  return r;
}

bool escapes(const fs::path& root, const std::string& rel) {
  if (rel.empty()) return true;
  std::error_code ec;
  fs::path full = fs::weakly_canonical(root / rel, ec);
  if (ec) return true;
  auto r = full.lexically_relative(root);
  return r.empty() || *r.begin() == "..";
}

std::string class_list(const std::vector<std::string>& names) {
  constexpr size_t kShown = 12;
  std::vector<std::string> shown(names.begin(), names.begin() + std::min(names.size(), kShown));
  return fmt::format("{}{}", fmt::join(shown, ", "), names.size() > kShown ? ", ..." : "");
}

// The reason to skip `p` that depends on other posts or on the raw directory, if any.
std::optional<SkipRecord> early_skip(const Context& ctx, const RawPost& p,
                                     std::unordered_set<std::string>& seen, const fs::path& root) {
  auto skip = [&](const char* reason, std::string detail) {
    return SkipRecord{p.post_id, p.source, reason, std::move(detail)};
  };
  if (p.post_id.empty()) return skip(skip_reason::kMalformedRow, "empty post id");
  if (!seen.insert(p.post_id).second) {
    return skip(skip_reason::kDuplicateId, "an earlier row has the same id");
  }
  if (ctx.raw->labelled && !ctx.class_id.count(p.label)) {
    return skip(skip_reason::kUnknownLabel, fmt::format("label '{}' is not one of the classes ({})",
                                                        p.label, class_list(ctx.raw->class_names)));
  }
  if (!p.relation.empty() && !ctx.relation_id.count(p.relation)) {
    return skip(skip_reason::kMalformedRow, fmt::format("unknown relation '{}'", p.relation));
  }
  if (escapes(root, p.image)) {
    return skip(skip_reason::kPathEscapes,
                fmt::format("image path '{}' is outside '{}'", p.image, ctx.raw->raw_dir));
  }
  return std::nullopt;
}

// The data set's split name, or the seeded random one; "" when it is not a split.
std::string split_of(const Context& ctx, const RawPost& p, const std::vector<double>& fractions,
                     bool* random) {
  std::string s = p.split;
  if (s.empty()) {
    *random = true;
    return random_split(p.post_id, ctx.options->seed, fractions);
  }
  if (s == "val" || s == "dev" || s == "valid") s = "validation";
  return s == "train" || s == "validation" || s == "test" ? s : "";
}

}  // namespace

Plan plan_posts(const Context& ctx, const std::vector<double>& fractions) {
  const RawDataset& raw = *ctx.raw;
  Plan plan;
  plan.splits.resize(raw.posts.size());
  std::unordered_set<std::string> seen;
  const fs::path root = fs::weakly_canonical(fs::path(raw.raw_dir));
  std::map<std::string, std::vector<size_t>> by_split;
  for (size_t i = 0; i < raw.posts.size(); ++i) {
    const RawPost& p = raw.posts[i];
    if (auto skip = early_skip(ctx, p, seen, root)) {
      plan.skipped.push_back({i, std::move(*skip)});
      continue;
    }
    std::string s = split_of(ctx, p, fractions, &plan.used_random_split);
    if (s.empty()) {
      plan.skipped.push_back(
          {i, SkipRecord{p.post_id, p.source, skip_reason::kMalformedRow,
                         fmt::format("split '{}' is not train, validation or test", p.split)}});
      continue;
    }
    plan.splits[i] = s;
    by_split[s].push_back(i);
  }
  const size_t size = size_t(ctx.options->shard_size);
  for (const char* s : {"train", "validation", "test"}) {
    const auto& posts = by_split[s];
    for (size_t start = 0; start < posts.size(); start += size) {
      Unit u{s, int(start / size), {}};
      u.posts.assign(posts.begin() + start, posts.begin() + std::min(posts.size(), start + size));
      plan.units.push_back(std::move(u));
    }
  }
  return plan;
}

std::string plan_digest(const RawDataset& raw, const Plan& plan) {
  Sha256 h;
  for (const auto& u : plan.units) {
    h.update(u.file() + "\x1e");
    for (size_t i : u.posts) h.update(raw.posts[i].post_id + "\x1f");
  }
  return h.hex_digest();
}

std::pair<size_t, size_t> rank_units(const Plan& plan, int rank, int size) {
  size_t total = 0;
  for (const auto& u : plan.units) total += u.posts.size();
  // Unit u belongs to the rank in whose equal share of the posts the unit starts.
  size_t first = plan.units.size(), last = plan.units.size(), before = 0;
  for (size_t u = 0; u < plan.units.size(); ++u) {
    const int owner = int(std::min<size_t>(size_t(size) - 1, before * size_t(size) / total));
    if (owner == rank && first == plan.units.size()) first = u;
    if (owner > rank) {
      last = u;
      break;
    }
    before += plan.units[u].posts.size();
  }
  if (first == plan.units.size()) return {first, first};
  return {first, last};
}

namespace {

// Step 3's writer: one shard per unit, opened at the unit's first written post.
class UnitSink {
 public:
  UnitSink(const Context& ctx, const Plan& plan) : ctx_(ctx), plan_(plan) {}

  void append(size_t unit, Sample& sample) {
    if (!writer_ || unit != current_.unit) {
      close();
      current_ = UnitResult{unit, 0, std::vector<int64_t>(ctx_.raw->class_names.size(), 0),
                            std::vector<int64_t>(ctx_.raw->relation_names.size(), 0), ""};
      auto path = fs::path(ctx_.options->out) / plan_.units[unit].file();
      writer_ = std::make_unique<ShardWriter>(path.string(), ctx_.max_length, ctx_.preset,
                                              ctx_.raw->meta_names, ctx_.region_dim);
      if (ctx_.regions != nullptr) digest_ = std::make_unique<Sha256>();
    }
    sample.sample_index = current_.rows++;
    writer_->append(sample);
    if (digest_) digest_regions(sample);
    if (sample.label >= 0) current_.class_counts[size_t(sample.label)]++;
    if (sample.relation >= 0) current_.relation_counts[size_t(sample.relation)]++;
  }

  /// Closes the open shard (checksums come after rebasing) and returns every unit written.
  std::vector<UnitResult> finish() {
    close();
    return std::move(done_);
  }

 private:
  void close() {
    if (!writer_) return;
    writer_->finish(false);
    writer_.reset();
    if (digest_) current_.region_digest = digest_->hex_digest();
    digest_.reset();
    done_.push_back(std::move(current_));
  }

  // What the shard stores of the post's regions, independent of the container they came from.
  void digest_regions(const Sample& s) {
    const RegionFeatures& r = s.regions;
    digest_->update(fmt::format("{}\x1f{}\x1f", s.post_id, r.count));
    digest_->update(r.features.data(), r.features.size() * sizeof(float));
    digest_->update(r.boxes.data(), r.boxes.size() * sizeof(float));
  }

  const Context& ctx_;
  const Plan& plan_;
  std::unique_ptr<ShardWriter> writer_;
  std::unique_ptr<Sha256> digest_;
  UnitResult current_;
  std::vector<UnitResult> done_;
};

}  // namespace

RankResult write_units(const Context& ctx, const Plan& plan, size_t first, size_t last) {
  std::vector<std::pair<size_t, size_t>> work;  // (unit, post index), in unit order
  for (size_t u = first; u < last; ++u) {
    for (size_t i : plan.units[u].posts) work.emplace_back(u, i);
  }
  const auto& posts = ctx.raw->posts;
  const unsigned threads = worker_count(ctx.options->threads);
  const size_t window = std::max<size_t>(64, 8 * threads);
  RankResult out;
  UnitSink sink(ctx, plan);
  parallel_ordered<Result>(
      work.size(), threads, window, [&](size_t k) { return process(ctx, posts[work[k].second]); },
      [&](size_t k, Result&& r) {
        if (!r.ok) {
          out.skipped.push_back({work[k].second, std::move(r.skip)});
          return;
        }
        sink.append(work[k].first, r.sample);
        out.utf8_repaired += r.repaired ? 1 : 0;
        out.truncated += r.truncated ? 1 : 0;
      });
  out.units = sink.finish();
  return out;
}

namespace {

// Length-prefixed fields: what ranks exchange is read back by the same build, so the format
// only has to be unambiguous; a malformed message is a bug.
class ByteSink {
 public:
  void u64(uint64_t v) { bytes_.append(reinterpret_cast<const char*>(&v), sizeof(v)); }
  void str(const std::string& s) {
    u64(s.size());
    bytes_ += s;
  }
  void vec(const std::vector<int64_t>& v) {
    u64(v.size());
    for (int64_t x : v) u64(uint64_t(x));
  }
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class ByteSource {
 public:
  explicit ByteSource(const std::string& bytes) : bytes_(bytes) {}
  uint64_t u64() {
    MMAUX_ASSERT(pos_ + sizeof(uint64_t) <= bytes_.size(), "rank message ends early at {}", pos_);
    uint64_t v = 0;
    std::copy_n(bytes_.data() + pos_, sizeof(v), reinterpret_cast<char*>(&v));
    pos_ += sizeof(v);
    return v;
  }
  std::string str() {
    const uint64_t n = u64();
    MMAUX_ASSERT(n <= bytes_.size() - pos_, "rank message string of {} bytes at {}", n, pos_);
    std::string s = bytes_.substr(pos_, size_t(n));
    pos_ += size_t(n);
    return s;
  }
  std::vector<int64_t> vec() {
    std::vector<int64_t> v(static_cast<size_t>(u64()));
    for (auto& x : v) x = int64_t(u64());
    return v;
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  const std::string& bytes_;
  size_t pos_ = 0;
};

}  // namespace

std::string encode(const RankResult& r) {
  ByteSink out;
  out.str(r.plan_digest);
  out.u64(r.units.size());
  for (const auto& u : r.units) {
    out.u64(u.unit);
    out.u64(uint64_t(u.rows));
    out.vec(u.class_counts);
    out.vec(u.relation_counts);
    out.str(u.region_digest);
  }
  out.u64(r.skipped.size());
  for (const auto& s : r.skipped) {
    out.u64(s.index);
    for (const auto* f : {&s.record.post_id, &s.record.source, &s.record.reason, &s.record.detail})
      out.str(*f);
  }
  out.u64(uint64_t(r.utf8_repaired));
  out.u64(uint64_t(r.truncated));
  return out.take();
}

RankResult decode_rank_result(const std::string& bytes) {
  ByteSource in(bytes);
  RankResult r;
  r.plan_digest = in.str();
  r.units.resize(size_t(in.u64()));
  for (auto& u : r.units) {
    u.unit = size_t(in.u64());
    u.rows = int64_t(in.u64());
    u.class_counts = in.vec();
    u.relation_counts = in.vec();
    u.region_digest = in.str();
  }
  r.skipped.resize(size_t(in.u64()));
  for (auto& s : r.skipped) {
    s.index = size_t(in.u64());
    for (auto* f : {&s.record.post_id, &s.record.source, &s.record.reason, &s.record.detail})
      *f = in.str();
  }
  r.utf8_repaired = int64_t(in.u64());
  r.truncated = int64_t(in.u64());
  MMAUX_ASSERT(in.done(), "rank message has trailing bytes");
  return r;
}

std::string encode(const std::vector<ShardInfo>& shards) {
  ByteSink out;
  out.u64(shards.size());
  for (const auto& s : shards) {
    out.str(s.file);
    out.str(s.split);
    out.u64(uint64_t(s.rows));
    out.u64(uint64_t(s.bytes));
    out.str(s.sha256);
  }
  return out.take();
}

std::vector<ShardInfo> decode_shards(const std::string& bytes) {
  ByteSource in(bytes);
  std::vector<ShardInfo> shards(size_t(in.u64()));
  for (auto& s : shards) {
    s.file = in.str();
    s.split = in.str();
    s.rows = int64_t(in.u64());
    s.bytes = int64_t(in.u64());
    s.sha256 = in.str();
  }
  MMAUX_ASSERT(in.done(), "rank message has trailing bytes");
  return shards;
}

}  // namespace mmaux::data::detail
