#include "mmaux/data/preprocess.h"

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>
#include <unordered_set>

#include "data/random.h"
#include "data/sha256.h"
#include "mmaux/core/error.h"
#include "mmaux/core/log.h"
#include "mmaux/core/strings.h"
#include "mmaux/core/version.h"
#include "mmaux/data/csv.h"
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
  // std::hash is not portable: mix the id's bytes ourselves.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : post_id) h = (h ^ c) * 1099511628211ULL;
  detail::SplitMix64 rng(detail::mix_seed(seed, h, 0x73706c6974ULL));
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
  const Tokenizer* tokenizer;
  ImagePreset preset;
  int max_length;
  std::map<std::string, int> class_id, relation_id;
};

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
  detail::Sha256 h;
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

}  // namespace

PreprocessReport run_preprocess(const PreprocessOptions& o, RawDataset raw) {
  auto t0 = std::chrono::steady_clock::now();
  MMAUX_CHECK_CONFIG(!raw.class_names.empty(), "data set '{}' declares no classes", raw.name);
  auto fractions = parse_split_fractions(o.split_fractions);
  ModelDirectory model = read_model_directory(o.model);
  auto tokenizer = Tokenizer::load(o.model);
  Context ctx;
  ctx.options = &o;
  ctx.raw = &raw;
  ctx.tokenizer = tokenizer.get();
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
  fs::path out(o.out);
  fs::create_directories(out);
  PreprocessReport report;
  report.read = int64_t(raw.posts.size() + raw.skipped.size());
  const std::string fingerprint = input_fingerprint(ctx, fractions);
  if (!o.force && up_to_date(o.out, fingerprint)) {
    report.up_to_date = true;
    log_info("data", "'{}' is up to date with its inputs; nothing to do (use --force to rebuild)",
             o.out);
    return report;
  }
  remove_old_outputs(out);

  // Step 2: checks that depend on other posts or on the raw directory, in input order.
  std::vector<SkipRecord> skipped = raw.skipped;
  std::vector<size_t> todo;
  std::vector<std::string> splits(raw.posts.size());
  std::unordered_set<std::string> seen;
  fs::path root = fs::weakly_canonical(fs::path(raw.raw_dir));
  bool used_random_split = false;
  for (size_t i = 0; i < raw.posts.size(); ++i) {
    const RawPost& p = raw.posts[i];
    auto skip = [&](const char* reason, std::string detail) {
      skipped.push_back(SkipRecord{p.post_id, p.source, reason, std::move(detail)});
    };
    if (p.post_id.empty()) {
      skip(skip_reason::kMalformedRow, "empty post id");
    } else if (!seen.insert(p.post_id).second) {
      skip(skip_reason::kDuplicateId, "an earlier row has the same id");
    } else if (!ctx.class_id.count(p.label)) {
      skip(skip_reason::kUnknownLabel,
           fmt::format("label '{}' is not one of the classes", p.label));
    } else if (!p.relation.empty() && !ctx.relation_id.count(p.relation)) {
      skip(skip_reason::kMalformedRow, fmt::format("unknown relation '{}'", p.relation));
    } else if (escapes(root, p.image)) {
      skip(skip_reason::kPathEscapes,
           fmt::format("image path '{}' is outside '{}'", p.image, raw.raw_dir));
    } else {
      std::string s = p.split;
      if (s.empty()) {
        s = random_split(p.post_id, o.seed, fractions);
        used_random_split = true;
      }
      if (s == "val" || s == "dev" || s == "valid") s = "validation";
      if (s != "train" && s != "validation" && s != "test") {
        skip(skip_reason::kMalformedRow,
             fmt::format("split '{}' is not train, validation or test", p.split));
        continue;
      }
      splits[i] = s;
      todo.push_back(i);
    }
  }

  // Step 3: workers process posts out of order; the writer consumes them in order.
  const size_t n = todo.size();
  unsigned threads =
      o.threads > 0 ? unsigned(o.threads) : std::max(1u, std::thread::hardware_concurrency());
  const size_t window = std::max<size_t>(64, 8 * threads);
  std::vector<std::unique_ptr<Result>> results(n);
  std::mutex mu;
  std::condition_variable produced, consumed;
  std::atomic<size_t> next{0};
  size_t written_upto = 0;
  bool abort = false;
  std::exception_ptr failure;
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (;;) {
        size_t k = next++;
        if (k >= n) return;
        {
          std::unique_lock<std::mutex> lock(mu);
          consumed.wait(lock, [&] { return abort || k < written_upto + window; });
          if (abort) return;
        }
        auto r = std::make_unique<Result>();
        try {
          *r = process(ctx, raw.posts[todo[k]]);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu);
          if (!failure) failure = std::current_exception();
          abort = true;
          produced.notify_all();
          consumed.notify_all();
          return;
        }
        std::lock_guard<std::mutex> lock(mu);
        results[k] = std::move(r);
        produced.notify_all();
      }
    });
  }

  Manifest manifest;
  manifest.set_dir(o.out);
  manifest.set_dataset(raw.name);
  manifest.set_class_names(raw.class_names);
  manifest.set_relation_names(raw.relation_names);
  manifest.set_text(ctx.max_length, tokenizer->pad_id(), tokenizer->fingerprint());
  manifest.set_image_preset(ctx.preset);
  manifest.set_split_seed(used_random_split ? o.seed : 0);
  std::map<std::string, SplitInfo> infos;
  std::map<std::string, std::unique_ptr<ShardWriter>> writers;
  std::string splits_csv = "post_id,split\n";
  auto close_writer = [&](const std::string& s) {
    ShardInfo sh = writers[s]->finish();
    sh.split = s;
    infos[s].shards.push_back(sh);
    writers[s].reset();
  };
  try {
    for (size_t k = 0; k < n; ++k) {
      std::unique_ptr<Result> r;
      {
        std::unique_lock<std::mutex> lock(mu);
        produced.wait(lock, [&] { return abort || results[k] != nullptr; });
        if (abort) break;
        r = std::move(results[k]);
        written_upto = k + 1;
      }
      consumed.notify_all();
      if (!r->ok) {
        skipped.push_back(r->skip);
        continue;
      }
      const std::string& s = splits[todo[k]];
      SplitInfo& info = infos[s];
      if (info.class_counts.empty()) {
        info.class_counts.assign(raw.class_names.size(), 0);
        info.relation_counts.assign(raw.relation_names.size(), 0);
      }
      if (!writers[s]) {
        auto file = fmt::format("{}-{:05d}.h5", s, info.shards.size());
        writers[s] = std::make_unique<ShardWriter>((out / file).string(), ctx.max_length,
                                                   ctx.preset, raw.meta_names);
      }
      r->sample.sample_index = info.size;
      writers[s]->append(r->sample);
      info.size++;
      info.class_counts[r->sample.label]++;
      if (r->sample.relation >= 0) info.relation_counts[r->sample.relation]++;
      report.written++;
      report.utf8_repaired += r->repaired ? 1 : 0;
      report.truncated += r->truncated ? 1 : 0;
      splits_csv += csv_row({r->sample.post_id, s});
      if (writers[s]->rows() >= o.shard_size) close_writer(s);
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu);
    if (!failure) failure = std::current_exception();
    abort = true;
  }
  consumed.notify_all();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  for (auto& [s, w] : writers) {
    if (w) close_writer(s);
  }

  // Step 4: report, then the manifest.
  report.skipped = int64_t(skipped.size());
  MMAUX_ASSERT(report.read == report.written + report.skipped, "read {} != written {} + skipped {}",
               report.read, report.written, report.skipped);
  std::string skipped_csv = "post_id,source,reason,detail\n";
  for (const auto& s : skipped) {
    report.skipped_by_reason[s.reason]++;
    skipped_csv += csv_row({s.post_id, s.source, s.reason, s.detail});
  }
  for (const auto& [s, info] : infos) report.written_by_split[s] = info.size;
  std::ofstream(out / "skipped.csv", std::ios::binary) << skipped_csv;
  std::ofstream(out / "splits.csv", std::ios::binary) << splits_csv;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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
              {"threads", threads}};
  std::ofstream(out / "report.json") << rep.dump(2) << "\n";
  double fraction = report.read > 0 ? double(report.skipped) / double(report.read) : 0.0;
  MMAUX_CHECK_DATA(report.read > 0, "data set '{}' under '{}' has no posts", raw.name, raw.raw_dir);
  MMAUX_CHECK_DATA(fraction <= o.max_skip_fraction,
                   "{} of {} posts ({:.1f}%) were skipped, more than --max-skip-fraction {}; see "
                   "'{}' for each post and reason (no manifest was written). {}",
                   report.skipped, report.read, 100 * fraction, o.max_skip_fraction,
                   (out / "skipped.csv").string(), report.summary());
  for (auto& [s, info] : infos) manifest.set_split(s, info);
  manifest.extra()["input_fingerprint"] = fingerprint;
  manifest.extra()["raw"] = raw.raw_dir;
  manifest.extra()["model"] = o.model;
  manifest.extra()["mmaux_version"] = std::string(version());
  manifest.extra()["read"] = std::to_string(report.read);
  manifest.extra()["skipped"] = std::to_string(report.skipped);
  manifest.save(o.out);
  return report;
}

}  // namespace mmaux::data
