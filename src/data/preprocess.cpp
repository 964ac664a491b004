#include "mmaux/data/preprocess.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <unordered_set>

#include "mmaux/core/csv.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/hash.h"
#include "mmaux/core/log.h"
#include "mmaux/core/strings.h"
#include "mmaux/core/version.h"
#include "mmaux/core/worker_pool.h"
#include "mmaux/data/image.h"
#include "mmaux/data/manifest.h"
#include "mmaux/data/shard.h"
#include "mmaux/data/text.h"
#include "mmaux/data/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mmaux::data {

std::string PreprocessReport::summary() const {
  std::string reasons;
  for (const auto& [r, n] : skipped_by_reason) {
    reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", r, n);
  }
  std::string splits;
  for (const auto& [s, n] : written_by_split) {
    splits += fmt::format("{}{} {}", splits.empty() ? "" : ", ", s, n);
  }
  return fmt::format(
      "read {} = written {} + skipped {}{}; splits: {}; {} texts with invalid UTF-8 "
      "repaired, {} truncated",
      read, written, skipped, reasons.empty() ? "" : " (" + reasons + ")",
      splits.empty() ? "none" : splits, utf8_repaired, truncated);
}

std::vector<double> parse_split_fractions(const std::string& text) {
  std::vector<double> f;
  for (const auto& p : split(text, ',')) {
    try {
      f.push_back(std::stod(trim(p)));
    } catch (const std::exception&) {
      f.push_back(-1);
    }
  }
  double sum = 0;
  for (double v : f) sum += v;
  MMAUX_CHECK_CONFIG(f.size() == 3 && sum > 0 && *std::min_element(f.begin(), f.end()) >= 0,
                     "--split-fractions '{}': expected three non-negative numbers "
                     "train,validation,test with a positive sum, e.g. 0.8,0.1,0.1",
                     text);
  for (double& v : f) v /= sum;
  return f;
}

std::string random_split(const std::string& post_id, uint64_t seed,
                         const std::vector<double>& fractions) {
  // std::hash is not portable: FNV-1a of the id's bytes is.
  SplitMix64 rng(mix_seed(seed, fnv1a64(post_id), 0x73706c6974ULL));
  double u = rng.uniform();
  if (u < fractions[0]) return "train";
  if (u < fractions[0] + fractions[1]) return "validation";
  return "test";
}

namespace {

struct Result {
  bool ok = false;
  SkipRecord skip;
  Sample sample;
  std::string split;
  bool repaired = false;
  bool truncated = false;
};

struct Context {
  const PreprocessOptions* options;
  const RawDataset* raw;
  int max_length;
  std::unique_ptr<Tokenizer> tokenizer;
  ImagePreset preset;
  std::map<std::string, int> class_id, relation_id;
};

// What every step needs: the model directory's text length and image preset, the tokenizer, and
// the class and relation ids.
Context make_context(const PreprocessOptions& o, const RawDataset& raw) {
  Context ctx;
  ctx.options = &o;
  ctx.raw = &raw;
  ModelDirectory model = read_model_directory(o.model);
  ctx.tokenizer = Tokenizer::load(o.model);
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
  for (size_t c = 0; c < raw.class_names.size(); ++c) ctx.class_id[raw.class_names[c]] = int(c);
  for (size_t c = 0; c < raw.relation_names.size(); ++c) {
    ctx.relation_id[raw.relation_names[c]] = int(c);
  }
  return ctx;
}

Result process(const Context& ctx, const RawPost& p) {
  Result r;
  auto skip = [&](const char* reason, std::string detail) {
    r.skip = SkipRecord{p.post_id, p.source, reason, std::move(detail)};
    return r;
  };
  int bad = 0;
  std::string text = repair_utf8(p.text, &bad);
  if (bad > 0) {
    size_t chars = to_codepoints(text).size();
    if (size_t(bad) * 10 > chars) {
      return skip(skip_reason::kInvalidUtf8,
                  fmt::format("{} of {} characters are invalid UTF-8", bad, chars));
    }
    r.repaired = true;
  }
  text = normalize_tweet(text);
  if (trim(text).empty()) return skip(skip_reason::kEmptyText, "no text after normalisation");
  Encoding enc = ctx.tokenizer->encode(text, ctx.max_length);
  r.truncated = enc.truncated;
  try {
    Image img = load_image((fs::path(ctx.raw->raw_dir) / p.image).string(), ctx.preset);
    r.sample.pixels = std::move(img.pixels);
    r.sample.height = img.height;
    r.sample.width = img.width;
  } catch (const ImageError& e) {
    return skip(e.reason().c_str(), e.what());
  }
  r.sample.post_id = p.post_id;
  r.sample.input_ids = std::move(enc.ids);
  r.sample.length = enc.length;
  r.sample.label = ctx.class_id.at(p.label);
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

std::string input_fingerprint(const Context& ctx, const std::vector<double>& fractions) {
  const auto& o = *ctx.options;
  const auto& raw = *ctx.raw;
  Sha256 h;
  h.update(fmt::format("pre-v1|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|", raw.name, std::string(version()),
                       ctx.tokenizer->fingerprint(), ctx.preset.fingerprint(), ctx.max_length,
                       o.seed, fractions[0], fractions[1], o.shard_size, o.max_skip_fraction));
  for (const auto& c : raw.class_names) h.update(c + "\x1f");
  for (const auto& p : raw.posts) {
    h.update(p.post_id + "\x1f" + p.text + "\x1f" + p.label + "\x1f" + p.split + "\x1f" + p.image +
             "\x1f" + p.relation + "\x1f");
    for (const auto& m : p.meta) h.update(m + "\x1f");
    struct stat st {};
    if (::stat((fs::path(raw.raw_dir) / p.image).c_str(), &st) == 0) {
      h.update(fmt::format("{}:{}\x1e", int64_t(st.st_size), int64_t(st.st_mtime)));
    }
  }
  for (const auto& s : raw.skipped) h.update(s.post_id + "\x1f" + s.reason + "\x1e");
  return h.hex_digest();
}

bool up_to_date(const std::string& out, const std::string& fingerprint) {
  if (!fs::exists(fs::path(out) / "manifest.json")) return false;
  try {
    Manifest m = Manifest::load(out, true);
    auto it = m.extra().find("input_fingerprint");
    return it != m.extra().end() && it->second == fingerprint;
  } catch (const Error&) {
    return false;
  }
}

void remove_old_outputs(const fs::path& out) {
  static const std::regex shard(R"((train|validation|test)-\d{5}\.h5)");
  fs::remove(out / "manifest.json");
  for (const auto& e : fs::directory_iterator(out)) {
    if (std::regex_match(e.path().filename().string(), shard)) fs::remove(e.path());
  }
}

// Step 2's output: the posts to process, in input order, and their splits.
struct Plan {
  std::vector<SkipRecord> skipped;  ///< the reader's, then step 2's
  std::vector<size_t> todo;         ///< indices into raw.posts
  std::vector<std::string> splits;  ///< by post index
  bool used_random_split = false;
};

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
  if (!ctx.class_id.count(p.label)) {
    return skip(skip_reason::kUnknownLabel,
                fmt::format("label '{}' is not one of the classes", p.label));
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

// Step 2: checks that depend on other posts or on the raw directory, and splits, in input order.
Plan plan_posts(const Context& ctx, const std::vector<double>& fractions) {
  const RawDataset& raw = *ctx.raw;
  Plan plan;
  plan.skipped = raw.skipped;
  plan.splits.resize(raw.posts.size());
  std::unordered_set<std::string> seen;
  const fs::path root = fs::weakly_canonical(fs::path(raw.raw_dir));
  for (size_t i = 0; i < raw.posts.size(); ++i) {
    const RawPost& p = raw.posts[i];
    if (auto skip = early_skip(ctx, p, seen, root)) {
      plan.skipped.push_back(std::move(*skip));
      continue;
    }
    std::string s = p.split;
    if (s.empty()) {
      s = random_split(p.post_id, ctx.options->seed, fractions);
      plan.used_random_split = true;
    }
    if (s == "val" || s == "dev" || s == "valid") s = "validation";
    if (s != "train" && s != "validation" && s != "test") {
      plan.skipped.push_back(
          SkipRecord{p.post_id, p.source, skip_reason::kMalformedRow,
                     fmt::format("split '{}' is not train, validation or test", p.split)});
      continue;
    }
    plan.splits[i] = s;
    plan.todo.push_back(i);
  }
  return plan;
}

// Step 3's writer: one open shard per split, closed at shard_size rows.
class ShardSink {
 public:
  ShardSink(const Context& ctx, fs::path out) : ctx_(ctx), out_(std::move(out)) {}

  void append(const std::string& split, Sample& sample) {
    SplitInfo& info = infos_[split];
    if (info.class_counts.empty()) {
      info.class_counts.assign(ctx_.raw->class_names.size(), 0);
      info.relation_counts.assign(ctx_.raw->relation_names.size(), 0);
    }
    auto& writer = writers_[split];
    if (!writer) {
      auto file = fmt::format("{}-{:05d}.h5", split, info.shards.size());
      writer = std::make_unique<ShardWriter>((out_ / file).string(), ctx_.max_length, ctx_.preset,
                                             ctx_.raw->meta_names);
    }
    sample.sample_index = info.size;
    writer->append(sample);
    info.size++;
    info.class_counts[sample.label]++;
    if (sample.relation >= 0) info.relation_counts[sample.relation]++;
    if (writer->rows() >= ctx_.options->shard_size) close(split);
  }

  /// Closes the open shards (in split name order) and returns every split's shards and counts.
  std::map<std::string, SplitInfo> finish() {
    for (auto& [s, w] : writers_) {
      if (w) close(s);
    }
    return std::move(infos_);
  }

 private:
  void close(const std::string& split) {
    ShardInfo sh = writers_[split]->finish();
    sh.split = split;
    infos_[split].shards.push_back(sh);
    writers_[split].reset();
  }

  const Context& ctx_;
  fs::path out_;
  std::map<std::string, SplitInfo> infos_;
  std::map<std::string, std::unique_ptr<ShardWriter>> writers_;
};

struct Written {
  std::map<std::string, SplitInfo> infos;
  std::string splits_csv = "post_id,split\n";
  unsigned threads = 1;
};

// Step 3: workers process posts out of order; the writer consumes them in order.
Written write_shards(const Context& ctx, Plan& plan, PreprocessReport& report) {
  const auto& posts = ctx.raw->posts;
  Written w;
  w.threads = worker_count(ctx.options->threads);
  const size_t window = std::max<size_t>(64, 8 * w.threads);
  ShardSink sink(ctx, ctx.options->out);
  parallel_ordered<Result>(
      plan.todo.size(), w.threads, window,
      [&](size_t k) { return process(ctx, posts[plan.todo[k]]); },
      [&](size_t k, Result&& r) {
        if (!r.ok) {
          plan.skipped.push_back(std::move(r.skip));
          return;
        }
        const std::string& s = plan.splits[plan.todo[k]];
        sink.append(s, r.sample);
        report.written++;
        report.utf8_repaired += r.repaired ? 1 : 0;
        report.truncated += r.truncated ? 1 : 0;
        w.splits_csv += csv_row({r.sample.post_id, s});
      });
  w.infos = sink.finish();
  return w;
}

// Step 4a: skipped.csv, splits.csv and report.json, then the skip-fraction check.
void write_reports(const Context& ctx, const Plan& plan, const Written& w,
                   PreprocessReport& report) {
  const RawDataset& raw = *ctx.raw;
  const PreprocessOptions& o = *ctx.options;
  const fs::path out(o.out);
  report.skipped = int64_t(plan.skipped.size());
  MMAUX_ASSERT(report.read == report.written + report.skipped, "read {} != written {} + skipped {}",
               report.read, report.written, report.skipped);
  std::string skipped_csv = "post_id,source,reason,detail\n";
  for (const auto& s : plan.skipped) {
    report.skipped_by_reason[s.reason]++;
    skipped_csv += csv_row({s.post_id, s.source, s.reason, s.detail});
  }
  for (const auto& [s, info] : w.infos) report.written_by_split[s] = info.size;
  write_file_atomic((out / "skipped.csv").string(), skipped_csv);
  write_file_atomic((out / "splits.csv").string(), w.splits_csv);
  json rep = {{"dataset", raw.name},
              {"raw", raw.raw_dir},
              {"read", report.read},
              {"written", report.written},
              {"skipped", report.skipped},
              {"skipped_by_reason", report.skipped_by_reason},
              {"written_by_split", report.written_by_split},
              {"utf8_repaired", report.utf8_repaired},
              {"truncated", report.truncated},
              {"notes", raw.notes},
              {"seconds", report.seconds},
              {"threads", w.threads}};
  write_file_atomic((out / "report.json").string(), rep.dump(2) + "\n");
  double fraction = report.read > 0 ? double(report.skipped) / double(report.read) : 0.0;
  MMAUX_CHECK_DATA(report.read > 0, "data set '{}' under '{}' has no posts", raw.name, raw.raw_dir);
  MMAUX_CHECK_DATA(fraction <= o.max_skip_fraction,
                   "{} of {} posts ({:.1f}%) were skipped, more than --max-skip-fraction {}; see "
                   "'{}' for each post and reason (no manifest was written). {}",
                   report.skipped, report.read, 100 * fraction, o.max_skip_fraction,
                   (out / "skipped.csv").string(), report.summary());
}

// Step 4b: manifest.json, written last so that a half-written output never looks complete.
void write_manifest(const Context& ctx, const Plan& plan, const Written& w,
                    const PreprocessReport& report, const std::string& fingerprint) {
  const RawDataset& raw = *ctx.raw;
  const PreprocessOptions& o = *ctx.options;
  Manifest manifest;
  manifest.set_dir(o.out);
  manifest.set_dataset(raw.name);
  manifest.set_class_names(raw.class_names);
  manifest.set_relation_names(raw.relation_names);
  manifest.set_text(ctx.max_length, ctx.tokenizer->pad_id(), ctx.tokenizer->fingerprint());
  manifest.set_image_preset(ctx.preset);
  manifest.set_split_seed(plan.used_random_split ? o.seed : 0);
  for (const auto& [s, info] : w.infos) manifest.set_split(s, info);
  manifest.extra()["input_fingerprint"] = fingerprint;
  manifest.extra()["raw"] = raw.raw_dir;
  manifest.extra()["model"] = o.model;
  manifest.extra()["mmaux_version"] = std::string(version());
  manifest.extra()["read"] = std::to_string(report.read);
  manifest.extra()["skipped"] = std::to_string(report.skipped);
  manifest.save(o.out);
}

}  // namespace

PreprocessReport run_preprocess(const PreprocessOptions& o, RawDataset raw) {
  auto t0 = std::chrono::steady_clock::now();
  MMAUX_CHECK_CONFIG(!raw.class_names.empty(), "data set '{}' declares no classes", raw.name);
  auto fractions = parse_split_fractions(o.split_fractions);
  const Context ctx = make_context(o, raw);
  fs::create_directories(o.out);
  PreprocessReport report;
  report.read = int64_t(raw.posts.size() + raw.skipped.size());
  // Step 1: nothing to do when the output was made from the same inputs.
  const std::string fingerprint = input_fingerprint(ctx, fractions);
  if (!o.force && up_to_date(o.out, fingerprint)) {
    report.up_to_date = true;
    log_info("data", "'{}' is up to date with its inputs; nothing to do (use --force to rebuild)",
             o.out);
    return report;
  }
  remove_old_outputs(o.out);
  Plan plan = plan_posts(ctx, fractions);
  Written written = write_shards(ctx, plan, report);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_reports(ctx, plan, written, report);
  write_manifest(ctx, plan, written, report, fingerprint);
  return report;
}

}  // namespace mmaux::data
