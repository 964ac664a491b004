#include "mmaux/data/manifest.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/hash.h"
#include "mmaux/core/strings.h"
#include "mmaux/data/regions.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mmaux::data {
namespace {

int parse_positive(const std::string& text, const std::string& whole) {
  size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  MMAUX_CHECK_CONFIG(used == text.size() && v > 0 && v <= 8192,
                     "image preset '{}': '{}' is not a size in 1..8192; expected fixed:SIZE, "
                     "fixed:HxW, vilt or vilt:SHORTER:LONGER_MAX:MULTIPLE",
                     whole, text);
  return v;
}

const char* kSplitOrder[] = {"train", "validation", "test"};

}  // namespace

ImagePreset ImagePreset::parse(const std::string& text) {
  auto parts = split(text, ':');
  ImagePreset p;
  if (parts[0] == "fixed" && parts.size() == 2) {
    auto hw = split(parts[1], 'x');
    MMAUX_CHECK_CONFIG(hw.size() <= 2, "image preset '{}': expected fixed:SIZE or fixed:HxW", text);
    p.kind = "fixed";
    p.height = parse_positive(hw[0], text);
    p.width = hw.size() == 2 ? parse_positive(hw[1], text) : p.height;
    return p;
  }
  if (parts[0] == "vilt" && (parts.size() == 1 || parts.size() == 4)) {
    p.kind = "vilt";
    if (parts.size() == 4) {
      p.shorter = parse_positive(parts[1], text);
      p.longer_max = parse_positive(parts[2], text);
      p.multiple = parse_positive(parts[3], text);
    }
    MMAUX_CHECK_CONFIG(p.shorter <= p.longer_max && p.multiple <= p.shorter,
                       "image preset '{}': expected multiple <= shorter <= longer_max", text);
    p.height = p.width = p.longer_max;
    return p;
  }
  if (parts[0] == "resnet" && (parts.size() == 1 || parts.size() == 3)) {
    p.kind = "resnet";
    p.shorter = 256;
    p.height = p.width = 224;
    if (parts.size() == 3) {
      p.shorter = parse_positive(parts[1], text);
      p.height = p.width = parse_positive(parts[2], text);
    }
    MMAUX_CHECK_CONFIG(p.height <= p.shorter,
                       "image preset '{}': the crop {} must not exceed the shorter side {}", text,
                       p.height, p.shorter);
    p.mean = kMmImdbMean;
    p.std = kMmImdbStd;
    return p;
  }
  MMAUX_THROW(ConfigError,
              "image preset '{}' is not understood; expected fixed:SIZE (e.g. fixed:224), "
              "fixed:HxW, vilt, vilt:SHORTER:LONGER_MAX:MULTIPLE, resnet or resnet:SHORTER:CROP",
              text);
}

std::string ImagePreset::to_string() const {
  if (kind == "resnet") return fmt::format("resnet:{}:{}", shorter, height);
  if (kind == "vilt") return fmt::format("vilt:{}:{}:{}", shorter, longer_max, multiple);
  if (height == width) return fmt::format("fixed:{}", height);
  return fmt::format("fixed:{}x{}", height, width);
}

std::string ImagePreset::fingerprint() const {
  // "v1" names the resize pipeline (libvips thumbnail, see image.cpp); bump it when that changes.
  // One number for a normalisation shared by the channels: the digest of the presets that had
  // only those stays what it was.
  auto text = [](const std::array<float, 3>& v) {
    return v[0] == v[1] && v[1] == v[2] ? fmt::format("{}", v[0])
                                        : fmt::format("{},{},{}", v[0], v[1], v[2]);
  };
  return sha256_hex(fmt::format("image-v1|{}|{}|{}", to_string(), text(mean), text(std)))
      .substr(0, 16);
}

int ImagePreset::storage_height() const {
  if (kind == "vilt") return longer_max / multiple * multiple;
  return height;
}
int64_t ImagePreset::storage_pixels() const {
  if (kind == "vilt") {
    return int64_t(shorter / multiple * multiple) * (longer_max / multiple * multiple);
  }
  return int64_t(height) * width;
}

int ImagePreset::storage_width() const {
  if (kind == "vilt") return longer_max / multiple * multiple;
  return width;
}

void Manifest::set_text(int64_t max_length, int64_t pad_id, const std::string& fingerprint) {
  text_max_length_ = max_length;
  pad_id_ = pad_id;
  tokenizer_fingerprint_ = fingerprint;
}

void Manifest::set_image_preset(const ImagePreset& preset) {
  image_preset_ = preset;
  image_fingerprint_ = preset.fingerprint();
}

std::vector<std::string> Manifest::split_names() const {
  std::vector<std::string> out;
  for (const char* s : kSplitOrder) {
    if (splits_.count(s)) out.push_back(s);
  }
  for (const auto& [name, info] : splits_) {
    if (name != "train" && name != "validation" && name != "test") out.push_back(name);
  }
  return out;
}

bool Manifest::has_split(const std::string& name) const { return splits_.count(name) > 0; }

const SplitInfo& Manifest::split(const std::string& name) const {
  auto it = splits_.find(name);
  if (it == splits_.end()) {
    std::string have;
    for (const auto& s : split_names()) have += (have.empty() ? "" : ", ") + s;
    MMAUX_THROW(ConfigError, "split '{}' is not in the data set at '{}' (it has: {})", name, dir_,
                have.empty() ? "none" : have);
  }
  return it->second;
}

std::string Manifest::fingerprint() const {
  Sha256 h;
  h.update(fmt::format("{}|{}|{}|{}|{}|", schema_version_, dataset_, tokenizer_fingerprint_,
                       image_fingerprint_, split_seed_));
  if (!labelled_) h.update("unlabeled|");  // labelled manifests keep their older digests
  for (const auto& c : class_names_) h.update(c + "|");
  // Only data sets with regions hash them, so that earlier manifests keep their fingerprint.
  if (has_regions()) {
    h.update(fmt::format("regions|{}|{}|{}|", regions_.max_regions, regions_.feature_dim,
                         regions_.fingerprint));
  }
  for (const auto& [name, info] : splits_) {
    for (const auto& s : info.shards) h.update(s.file + ":" + s.sha256 + "|");
  }
  return h.hex_digest().substr(0, 16);
}

void Manifest::save(const std::string& dir) const {
  json j;
  j["schema_version"] = schema_version_;
  j["dataset"] = dataset_;
  j["labelled"] = labelled_;
  j["class_names"] = class_names_;
  j["relation_names"] = relation_names_;
  j["text"] = {{"max_length", text_max_length_},
               {"pad_id", pad_id_},
               {"tokenizer_fingerprint", tokenizer_fingerprint_}};
  auto channels = [](const std::array<float, 3>& v) {
    return v[0] == v[1] && v[1] == v[2] ? json(v[0]) : json(v);
  };
  j["image"] = {{"preset", image_preset_.to_string()},
                {"mean", channels(image_preset_.mean)},
                {"std", channels(image_preset_.std)},
                {"fingerprint", image_fingerprint_}};
  j["split_seed"] = split_seed_;
  if (has_regions()) {
    j["regions"] = {{"max_regions", regions_.max_regions},
                    {"feature_dim", regions_.feature_dim},
                    {"source_kind", regions_.source_kind},
                    {"source", regions_.source},
                    {"fingerprint", regions_.fingerprint}};
  }
  json splits = json::object();
  for (const auto& [name, info] : splits_) {
    json s;
    s["size"] = info.size;
    json counts = json::object();
    for (size_t c = 0; c < info.class_counts.size(); ++c) {
      counts[c < class_names_.size() ? class_names_[c] : std::to_string(c)] = info.class_counts[c];
    }
    s["class_counts"] = counts;
    s["class_counts_by_id"] = info.class_counts;
    s["relation_counts_by_id"] = info.relation_counts;
    json shards = json::array();
    for (const auto& sh : info.shards) {
      shards.push_back(
          {{"file", sh.file}, {"rows", sh.rows}, {"bytes", sh.bytes}, {"sha256", sh.sha256}});
    }
    s["shards"] = shards;
    splits[name] = s;
  }
  j["splits"] = splits;
  j["extra"] = extra_;
  j["fingerprint"] = fingerprint();
  write_file_atomic((fs::path(dir) / "manifest.json").string(), j.dump(2) + "\n");
}

Manifest Manifest::load(const std::string& dir, bool verify) {
  fs::path path = fs::path(dir) / "manifest.json";
  std::ifstream in(path);
  MMAUX_CHECK_DATA(in.good(), "no manifest at '{}'; run 'mmaux preprocess --out {}' first",
                   path.string(), dir);
  json j;
  try {
    in >> j;
  } catch (const std::exception& e) {
    MMAUX_THROW(DataError,
                "manifest '{}' is not valid JSON ({}); re-run 'mmaux preprocess --force'",
                path.string(), e.what());
  }
  Manifest m;
  m.dir_ = dir;
  try {
    m.schema_version_ = j.at("schema_version").get<int>();
    MMAUX_CHECK_DATA(m.schema_version_ == kManifestSchemaVersion,
                     "manifest '{}' has schema_version {}, this build reads {}; re-run 'mmaux "
                     "preprocess --force' with this build",
                     path.string(), m.schema_version_, kManifestSchemaVersion);
    m.dataset_ = j.at("dataset").get<std::string>();
    m.labelled_ = j.value("labelled", true);
    m.class_names_ = j.at("class_names").get<std::vector<std::string>>();
    MMAUX_CHECK_DATA(m.labelled_ || m.class_names_.empty(),
                     "manifest '{}' says \"labelled\": false but names {} classes; re-run 'mmaux "
                     "preprocess --force'",
                     path.string(), m.class_names_.size());
    m.relation_names_ = j.at("relation_names").get<std::vector<std::string>>();
    const auto& t = j.at("text");
    m.text_max_length_ = t.at("max_length").get<int64_t>();
    m.pad_id_ = t.at("pad_id").get<int64_t>();
    m.tokenizer_fingerprint_ = t.at("tokenizer_fingerprint").get<std::string>();
    const auto& im = j.at("image");
    m.image_preset_ = ImagePreset::parse(im.at("preset").get<std::string>());
    auto channels = [](const json& v) {
      return v.is_array() ? v.get<std::array<float, 3>>()
                          : std::array<float, 3>{v.get<float>(), v.get<float>(), v.get<float>()};
    };
    m.image_preset_.mean = channels(im.at("mean"));
    m.image_preset_.std = channels(im.at("std"));
    m.image_fingerprint_ = im.at("fingerprint").get<std::string>();
    m.split_seed_ = j.at("split_seed").get<uint64_t>();
    if (j.contains("regions")) {
      const auto& r = j.at("regions");
      m.regions_.max_regions = r.at("max_regions").get<int>();
      m.regions_.feature_dim = r.at("feature_dim").get<int>();
      m.regions_.source_kind = r.at("source_kind").get<std::string>();
      m.regions_.source = r.at("source").get<std::string>();
      m.regions_.fingerprint = r.at("fingerprint").get<std::string>();
      MMAUX_CHECK_DATA(m.regions_.max_regions >= 1 && m.regions_.max_regions <= kMaxRegions &&
                           m.regions_.feature_dim >= 1,
                       "manifest '{}': regions {} x {} features, expected 1..{} regions and "
                       "F >= 1; re-run 'mmaux preprocess --force'",
                       path.string(), m.regions_.max_regions, m.regions_.feature_dim, kMaxRegions);
    }
    for (const auto& [name, s] : j.at("splits").items()) {
      SplitInfo info;
      info.size = s.at("size").get<int64_t>();
      info.class_counts = s.at("class_counts_by_id").get<std::vector<int64_t>>();
      info.relation_counts = s.at("relation_counts_by_id").get<std::vector<int64_t>>();
      int64_t rows = 0;
      for (const auto& sh : s.at("shards")) {
        ShardInfo si;
        si.file = sh.at("file").get<std::string>();
        si.split = name;
        si.rows = sh.at("rows").get<int64_t>();
        si.bytes = sh.at("bytes").get<int64_t>();
        si.sha256 = sh.at("sha256").get<std::string>();
        rows += si.rows;
        info.shards.push_back(si);
      }
      MMAUX_CHECK_DATA(rows == info.size,
                       "manifest '{}': split '{}' says {} samples but its shards hold {}",
                       path.string(), name, info.size, rows);
      m.splits_[name] = std::move(info);
    }
    if (j.contains("extra")) m.extra_ = j.at("extra").get<std::map<std::string, std::string>>();
  } catch (const json::exception& e) {
    MMAUX_THROW(DataError, "manifest '{}' is malformed ({}); re-run 'mmaux preprocess --force'",
                path.string(), e.what());
  }
  if (verify) m.verify_checksums();
  return m;
}

void Manifest::verify_checksums() const {
  for (const auto& [name, info] : splits_) {
    for (const auto& sh : info.shards) {
      fs::path p = fs::path(dir_) / sh.file;
      std::error_code ec;
      auto size = fs::file_size(p, ec);
      MMAUX_CHECK_DATA(!ec,
                       "shard '{}' listed in '{}/manifest.json' is missing ({}); re-run "
                       "'mmaux preprocess --force'",
                       p.string(), dir_, ec.message());
      MMAUX_CHECK_DATA(static_cast<int64_t>(size) == sh.bytes,
                       "shard '{}' has {} bytes but the manifest says {} (truncated or "
                       "replaced); re-run 'mmaux preprocess --force'",
                       p.string(), size, sh.bytes);
      auto digest = sha256_file(p.string());
      MMAUX_CHECK_DATA(digest == sh.sha256,
                       "shard '{}' fails its checksum: sha256 {} but the manifest says {} (the "
                       "file was altered or corrupted); re-run 'mmaux preprocess --force'",
                       p.string(), digest, sh.sha256);
    }
  }
}

}  // namespace mmaux::data
