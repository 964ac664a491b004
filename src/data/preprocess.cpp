#include "mmaux/data/preprocess.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "data/preprocess_steps.h"
#include "mmaux/core/csv.h"
#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/hash.h"
#include "mmaux/core/log.h"
#include "mmaux/core/strings.h"
#include "mmaux/core/version.h"
#include "mmaux/core/worker_pool.h"
#include "mmaux/data/manifest.h"
#include "mmaux/data/shard.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mmaux::data {

namespace {

// "a 1, b 2", or "" for no counts.
std::string counts_text(const std::map<std::string, int64_t>& counts) {
  std::string out;
  for (const auto& [name, n] : counts)
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", name, n);
  return out;
}

}  // namespace

std::string PreprocessReport::summary() const {
  const std::string skips = counts_text(skipped_by_reason);
  const std::string filters = counts_text(filtered_by_reason);
  const std::string splits = counts_text(written_by_split);
  return fmt::format(
      "read {} = written {} + filtered {}{} + skipped {}{}; splits: {}; {} texts with invalid "
      "UTF-8 repaired, {} truncated",
      read, written, filtered, filters.empty() ? "" : " (" + filters + ")", skipped,
      skips.empty() ? "" : " (" + skips + ")", splits.empty() ? "none" : splits, utf8_repaired,
      truncated);
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

using detail::Context;
using detail::IndexedSkip;
using detail::Plan;

// One process: all_gather is the identity.
class SingleProcess : public PreprocessRanks {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::vector<std::string> all_gather(const std::string& bytes) override { return {bytes}; }
};

std::string input_fingerprint(const Context& ctx, const std::vector<double>& fractions) {
  const auto& o = *ctx.options;
  const auto& raw = *ctx.raw;
  Sha256 h;
  h.update(fmt::format("pre-v2|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|", raw.name,
                       std::string(version()), ctx.tokenizer->fingerprint(),
                       ctx.preset.fingerprint(), ctx.max_length, o.seed, fractions[0], fractions[1],
                       o.shard_size, o.max_skip_fraction, o.max_image_pixels, o.max_image_bytes));
  if (!raw.labelled) h.update("unlabeled\x1f");
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
  for (const auto& s : raw.filtered) h.update("f" + s.post_id + "\x1f" + s.reason + "\x1e");
  if (ctx.regions != nullptr) {
    h.update(
        fmt::format("regions|{}|{}|{}|", ctx.regions->kind(), ctx.regions->path(), ctx.region_dim));
    std::vector<std::string> ids;
    ids.reserve(raw.posts.size());
    for (const auto& p : raw.posts) ids.push_back(p.post_id);
    ctx.regions->fingerprint(h, ids);
  }
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

// Step 1 on rank 0, its decision on every rank: true when the output is up to date.
bool decide_up_to_date(const Context& ctx, const std::vector<double>& fractions,
                       PreprocessRanks& ranks, std::string* fingerprint) {
  const auto& o = *ctx.options;
  bool up = false;
  if (ranks.rank() == 0) {
    fs::create_directories(o.out);
    *fingerprint = input_fingerprint(ctx, fractions);
    up = !o.force && up_to_date(o.out, *fingerprint);
    if (!up) remove_old_outputs(o.out);
  }
  // Nobody writes a shard before rank 0 has removed the old ones.
  up = ranks.all_gather(up ? "1" : "0")[0] == "1";
  if (!up) fs::create_directories(o.out);
  return up;
}

// What every rank knows once the ranks have exchanged their results.
struct Merged {
  std::vector<detail::UnitResult> units;  ///< by unit index (rows 0: nothing written)
  std::vector<IndexedSkip> skipped;       ///< the plan's and the workers', by post index
  int64_t utf8_repaired = 0;
  int64_t truncated = 0;
};

Merged merge(const Plan& plan, const std::string& digest,
             const std::vector<std::string>& messages) {
  Merged m;
  m.units.resize(plan.units.size());
  m.skipped = plan.skipped;
  for (size_t rank = 0; rank < messages.size(); ++rank) {
    detail::RankResult r = detail::decode_rank_result(messages[rank]);
    // Every rank planned alone: the plans agree unless the raw files changed under the job.
    MMAUX_CHECK_DATA(r.plan_digest == digest,
                     "rank {} planned a different data set than this rank (digest {} vs {}): did "
                     "the raw files change while the ranks read them? Run 'mmaux preprocess' again",
                     rank, r.plan_digest, digest);
    for (auto& u : r.units) {
      MMAUX_ASSERT(u.unit < m.units.size(), "rank {} wrote unit {} of {}", rank, u.unit,
                   m.units.size());
      m.units[u.unit] = std::move(u);
    }
    m.skipped.insert(m.skipped.end(), r.skipped.begin(), r.skipped.end());
    m.utf8_repaired += r.utf8_repaired;
    m.truncated += r.truncated;
  }
  std::stable_sort(m.skipped.begin(), m.skipped.end(),
                   [](const IndexedSkip& a, const IndexedSkip& b) { return a.index < b.index; });
  return m;
}

// Step 4 for this rank's units: the position of each shard's first post in its split, then the
// rebased shard's size and checksum.
std::vector<ShardInfo> finish_shards(const Context& ctx, const Plan& plan, const Merged& merged,
                                     size_t first, size_t last) {
  std::map<std::string, int64_t> position;
  std::vector<ShardInfo> out;
  for (size_t u = 0; u < last; ++u) {
    const auto& unit = plan.units[u];
    const int64_t start = position[unit.split];
    position[unit.split] += merged.units[u].rows;
    if (u < first || merged.units[u].rows == 0) continue;
    const std::string path = (fs::path(ctx.options->out) / unit.file()).string();
    if (start > 0) rebase_sample_index(path, start);
    ShardInfo info;
    info.file = unit.file();
    info.split = unit.split;
    info.rows = merged.units[u].rows;
    info.bytes = int64_t(fs::file_size(path));
    info.sha256 = sha256_file(path);
    out.push_back(std::move(info));
  }
  return out;
}

// Every split's size, counts and shards, in unit order.
std::map<std::string, SplitInfo> split_infos(const Context& ctx, const Plan& plan,
                                             const Merged& merged,
                                             const std::vector<std::string>& messages) {
  std::map<std::string, ShardInfo> by_file;
  for (const auto& bytes : messages) {
    for (auto& s : detail::decode_shards(bytes)) by_file[s.file] = std::move(s);
  }
  std::map<std::string, SplitInfo> infos;
  for (size_t u = 0; u < plan.units.size(); ++u) {
    const auto& r = merged.units[u];
    if (r.rows == 0) continue;
    SplitInfo& info = infos[plan.units[u].split];
    if (info.class_counts.empty()) {
      info.class_counts.assign(ctx.raw->class_names.size(), 0);
      info.relation_counts.assign(ctx.raw->relation_names.size(), 0);
    }
    info.size += r.rows;
    for (size_t c = 0; c < r.class_counts.size(); ++c) info.class_counts[c] += r.class_counts[c];
    for (size_t c = 0; c < r.relation_counts.size(); ++c) {
      info.relation_counts[c] += r.relation_counts[c];
    }
    info.shards.push_back(by_file.at(plan.units[u].file()));
  }
  return infos;
}

void fill_report(const RawDataset& raw, const Merged& merged,
                 const std::map<std::string, SplitInfo>& infos, PreprocessReport& report) {
  report.filtered = int64_t(raw.filtered.size());
  for (const auto& s : raw.filtered) report.filtered_by_reason[s.reason]++;
  report.skipped = int64_t(raw.skipped.size() + merged.skipped.size());
  for (const auto& s : raw.skipped) report.skipped_by_reason[s.reason]++;
  for (const auto& s : merged.skipped) report.skipped_by_reason[s.record.reason]++;
  for (const auto& [s, info] : infos) {
    report.written_by_split[s] = info.size;
    report.written += info.size;
  }
  report.utf8_repaired = merged.utf8_repaired;
  report.truncated = merged.truncated;
  MMAUX_ASSERT(report.read == report.written + report.filtered + report.skipped,
               "read {} != written {} + filtered {} + skipped {}", report.read, report.written,
               report.filtered, report.skipped);
}

// Step 5a on rank 0: skipped.csv, splits.csv and report.json, then the skip-fraction check.
void write_reports(const Context& ctx, const Plan& plan, const Merged& merged, unsigned threads,
                   int ranks, const PreprocessReport& report) {
  const RawDataset& raw = *ctx.raw;
  const PreprocessOptions& o = *ctx.options;
  const fs::path out(o.out);
  std::string skipped_csv = "post_id,source,reason,detail,outcome\n";
  for (const auto& s : raw.filtered) {
    skipped_csv += csv_row({s.post_id, s.source, s.reason, s.detail, "filtered"});
  }
  for (const auto& s : raw.skipped) {
    skipped_csv += csv_row({s.post_id, s.source, s.reason, s.detail, "skipped"});
  }
  std::vector<bool> not_written(raw.posts.size(), false);
  for (const auto& [i, s] : merged.skipped) {
    skipped_csv += csv_row({s.post_id, s.source, s.reason, s.detail, "skipped"});
    not_written[i] = true;
  }
  std::string splits_csv = "post_id,split\n";
  for (size_t i = 0; i < raw.posts.size(); ++i) {
    if (!not_written[i]) splits_csv += csv_row({raw.posts[i].post_id, plan.splits[i]});
  }
  write_file_atomic((out / "skipped.csv").string(), skipped_csv);
  write_file_atomic((out / "splits.csv").string(), splits_csv);
  json rep = {{"dataset", raw.name},
              {"raw", raw.raw_dir},
              {"read", report.read},
              {"written", report.written},
              {"filtered", report.filtered},
              {"filtered_by_reason", report.filtered_by_reason},
              {"skipped", report.skipped},
              {"skipped_by_reason", report.skipped_by_reason},
              {"written_by_split", report.written_by_split},
              {"utf8_repaired", report.utf8_repaired},
              {"truncated", report.truncated},
              {"notes", raw.notes},
              {"warnings", raw.warnings},
              {"seconds", report.seconds},
              {"ranks", ranks},
              {"threads_per_rank", threads}};
  write_file_atomic((out / "report.json").string(),
                    rep.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
  const int64_t eligible = report.read - report.filtered;
  MMAUX_CHECK_DATA(eligible > 0, "data set '{}' under '{}' has no posts{}", raw.name, raw.raw_dir,
                   report.read > 0 ? " that its rules keep (every post was filtered)" : "");
  const double fraction = double(report.skipped) / double(eligible);
  MMAUX_CHECK_DATA(fraction <= o.max_skip_fraction,
                   "{} of {} posts ({:.1f}%) were skipped, more than --max-skip-fraction {} "
                   "(filtered posts, removed by the data set's own rules, do not count); see "
                   "'{}' for each post and reason (no manifest was written). {}",
                   report.skipped, eligible, 100 * fraction, o.max_skip_fraction,
                   (out / "skipped.csv").string(), report.summary());
}

// The manifest's record of the stored regions: the units' digests in unit order, so the same
// posts and values give the same fingerprint whatever the shard size or number of ranks.
RegionInfo region_info(const Context& ctx, const Plan& plan, const Merged& merged) {
  Sha256 h;
  h.update(fmt::format("regions-v1|{}|{}|", kMaxRegions, ctx.region_dim));
  for (size_t u = 0; u < plan.units.size(); ++u) {
    if (merged.units[u].rows > 0) h.update(merged.units[u].region_digest + "|");
  }
  RegionInfo info;
  info.max_regions = kMaxRegions;
  info.feature_dim = ctx.region_dim;
  info.source_kind = ctx.regions->kind();
  info.source = ctx.regions->path();
  info.fingerprint = h.hex_digest();
  return info;
}

// Step 5b on rank 0: manifest.json, written last so that a half-written output never looks
// complete.
void write_manifest(const Context& ctx, const Plan& plan, const Merged& merged,
                    const std::map<std::string, SplitInfo>& infos, const PreprocessReport& report,
                    const std::string& fingerprint) {
  const RawDataset& raw = *ctx.raw;
  const PreprocessOptions& o = *ctx.options;
  Manifest manifest;
  manifest.set_dir(o.out);
  manifest.set_dataset(raw.name);
  manifest.set_labelled(raw.labelled);
  manifest.set_class_names(raw.class_names);
  manifest.set_relation_names(raw.relation_names);
  manifest.set_text(ctx.max_length, ctx.tokenizer->pad_id(), ctx.tokenizer->fingerprint());
  manifest.set_image_preset(ctx.preset);
  manifest.set_split_seed(plan.used_random_split ? o.seed : 0);
  for (const auto& [s, info] : infos) manifest.set_split(s, info);
  if (ctx.regions != nullptr) manifest.set_regions(region_info(ctx, plan, merged));
  manifest.extra()["input_fingerprint"] = fingerprint;
  manifest.extra()["raw"] = raw.raw_dir;
  manifest.extra()["model"] = o.model;
  manifest.extra()["mmaux_version"] = std::string(version());
  manifest.extra()["read"] = std::to_string(report.read);
  manifest.extra()["filtered"] = std::to_string(report.filtered);
  manifest.extra()["skipped"] = std::to_string(report.skipped);
  manifest.save(o.out);
}

}  // namespace

PreprocessReport run_preprocess(const PreprocessOptions& o, RawDataset raw, PreprocessRanks* ranks,
                                const RegionSource* regions) {
  auto t0 = std::chrono::steady_clock::now();
  SingleProcess single;
  PreprocessRanks& group = ranks != nullptr ? *ranks : single;
  const bool root = group.rank() == 0;
  MMAUX_CHECK_CONFIG(raw.labelled ? !raw.class_names.empty() : raw.class_names.empty(),
                     "data set '{}' {}", raw.name,
                     raw.labelled ? "declares no classes" : "is unlabeled but declares classes");
  auto fractions = parse_split_fractions(o.split_fractions);
  const Context ctx = detail::make_context(o, raw, regions);
  if (root) {
    for (const auto& w : raw.warnings) log_warn("data", "{}", w);
  }
  PreprocessReport report;
  report.read = int64_t(raw.posts.size() + raw.skipped.size() + raw.filtered.size());
  // Step 1: nothing to do when the output was made from the same inputs.
  std::string fingerprint;
  if (decide_up_to_date(ctx, fractions, group, &fingerprint)) {
    report.up_to_date = true;
    if (root) {
      log_info("data", "'{}' is up to date with its inputs; nothing to do (use --force to rebuild)",
               o.out);
    }
    return report;
  }
  // Steps 2-3: every rank plans alike and writes its run of units.
  const Plan plan = detail::plan_posts(ctx, fractions);
  const auto [first, last] = detail::rank_units(plan, group.rank(), group.size());
  auto mine = detail::write_units(ctx, plan, first, last);
  mine.plan_digest = detail::plan_digest(raw, plan);
  // Step 4: where each shard starts in its split, then checksums.
  const Merged merged = merge(plan, mine.plan_digest, group.all_gather(detail::encode(mine)));
  const auto shards = finish_shards(ctx, plan, merged, first, last);
  const auto infos = split_infos(ctx, plan, merged, group.all_gather(detail::encode(shards)));
  fill_report(raw, merged, infos, report);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Step 5: rank 0 writes the reports, and the manifest unless too many posts were skipped.
  if (root) {
    write_reports(ctx, plan, merged, worker_count(o.threads), group.size(), report);
    write_manifest(ctx, plan, merged, infos, report, fingerprint);
  }
  return report;
}
}  // namespace mmaux::data
