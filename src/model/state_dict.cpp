#include "mmaux/model/state_dict.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

#include <filesystem>
#include <set>

#include "mmaux/core/error.h"
#include "mmaux/core/files.h"
#include "mmaux/core/log.h"
#include "mmaux/model/safetensors.h"
#include "mmaux/model/torch_bin.h"
#include "model/json_util.h"
#include "model/shape.h"

namespace mmaux::model {

namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool any_prefix(const std::string& s, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes) {
    if (starts_with(s, p)) return true;
  }
  return false;
}

std::string list(const std::vector<std::string>& names, size_t max = 20) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < max; ++i) s += "\n  " + names[i];
  if (names.size() > max) s += fmt::format("\n  ... and {} more", names.size() - max);
  return s;
}

bool is_float(at::ScalarType t) {
  return t == at::kFloat || t == at::kDouble || t == at::kHalf || t == at::kBFloat16;
}

}  // namespace

namespace {

/// Parameters, then buffers (BatchNorm statistics), by name.
std::vector<std::pair<std::string, at::Tensor>> named_state(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : module.named_parameters(true)) out.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers(true)) out.emplace_back(item.key(), item.value());
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

LoadReport load_state_dict(torch::nn::Module& module, const TensorMap& tensors,
                           const LoadRules& rules, const std::string& origin) {
  LoadReport report;
  std::set<std::string> used;
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;
  for (const auto& [name, dst] : named_state(module)) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      // PyTorch fills a BatchNorm's num_batches_tracked that a checkpoint lacks (saved before
      // 0.4.1) with 0; it is a counter, never a weight.
      if (ends_with(name, ".num_batches_tracked") || name == "num_batches_tracked") {
        copies.emplace_back(dst, at::zeros({}, at::kLong));
        report.zero_filled.push_back(name);
      } else {
        report.missing.push_back(name);
      }
      continue;
    }
    used.insert(name);
    const at::Tensor& src = it->second;
    const bool kinds_match =
        is_float(dst.scalar_type()) ? is_float(src.scalar_type()) : !is_float(src.scalar_type());
    if (src.sizes() != dst.sizes() || !kinds_match) {
      report.mismatched.push_back(fmt::format(
          "{}: checkpoint {} {} vs model {} {}", name, c10::toString(src.scalar_type()),
          shape_string(src.sizes()), c10::toString(dst.scalar_type()), shape_string(dst.sizes())));
      continue;
    }
    copies.emplace_back(dst, src);
    report.loaded.push_back(name);
  }
  for (const auto& [name, t] : tensors) {
    if (used.count(name)) continue;
    (any_prefix(name, rules.ignore) ? report.ignored : report.unexpected).push_back(name);
  }
  std::vector<std::string> hard_missing;
  for (const auto& name : report.missing) {
    if (!any_prefix(name, rules.may_miss)) hard_missing.push_back(name);
  }
  if (rules.strict &&
      (!hard_missing.empty() || !report.unexpected.empty() || !report.mismatched.empty())) {
    MMAUX_THROW(DataError,
                "{}: checkpoint does not match the model ({} missing, {} unexpected, {} mis-shaped "
                "tensors); pass --model.strict false to load what matches and keep the rest as "
                "initialised{}{}{}{}{}{}",
                origin, hard_missing.size(), report.unexpected.size(), report.mismatched.size(),
                hard_missing.empty() ? "" : "\nmissing:", list(hard_missing),
                report.unexpected.empty() ? "" : "\nunexpected:", list(report.unexpected),
                report.mismatched.empty() ? "" : "\nmis-shaped:", list(report.mismatched));
  }
  {
    at::NoGradGuard no_grad;
    for (auto& [dst, src] : copies) dst.copy_(src.to(dst.device()).to(dst.scalar_type()));
  }
  log_info("model",
           "{}: loaded {} tensors, {} missing (initialised), {} unexpected, {} "
           "mis-shaped, {} pre-training tensors skipped",
           origin, report.loaded.size(), report.missing.size(), report.unexpected.size(),
           report.mismatched.size(), report.ignored.size());
  if (!report.ignored.empty()) {
    log_info("model", "{}: skipped on purpose (pre-training heads, buffers):{}", origin,
             list(report.ignored));
  }
  if (!report.zero_filled.empty()) {
    log_info("model", "{}: {} BatchNorm num_batches_tracked not in the checkpoint: set to 0",
             origin, report.zero_filled.size());
  }
  if (!report.missing.empty())
    log_warn("model", "{}: not in the checkpoint:{}", origin, list(report.missing));
  if (!report.unexpected.empty()) {
    log_warn("model", "{}: not in the model:{}", origin, list(report.unexpected));
  }
  if (!report.mismatched.empty()) {
    log_warn("model", "{}: mis-shaped:{}", origin, list(report.mismatched));
  }
  return report;
}

std::vector<std::pair<std::string, at::Tensor>> state_tensors(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> out = named_state(module);
  for (auto& item : out) item.second = item.second.detach();
  return out;
}

void save_state(const torch::nn::Module& module, const std::string& path,
                const std::map<std::string, std::string>& metadata) {
  write_safetensors(path, state_tensors(module), metadata);
}

LoadReport load_state(torch::nn::Module& module, const std::string& path, bool strict) {
  SafetensorsReader reader(path);
  TensorMap tensors;
  for (auto& [name, t] : reader.load_all()) tensors.emplace(name, t);
  LoadRules rules;
  rules.strict = strict;
  return load_state_dict(module, tensors, rules, path);
}

namespace {

/// Hugging Face weight files in the order transformers' from_pretrained prefers them.
struct WeightFormat {
  const char* single;  ///< one file
  const char* index;   ///< a sharded checkpoint's index
  bool torch_bin;
};
constexpr WeightFormat kWeightFormats[] = {
    {"model.safetensors", "model.safetensors.index.json", false},
    {"pytorch_model.bin", "pytorch_model.bin.index.json", true}};

/// Weight files of other frameworks, which mmaux does not read.
constexpr const char* kForeignWeights[] = {"tf_model.h5", "flax_model.msgpack", "model.ckpt.index"};

void add_weights_file(TensorMap& out, const fs::path& file, bool torch_bin) {
  auto tensors =
      torch_bin ? read_torch_bin(file.string()) : SafetensorsReader(file.string()).load_all();
  for (auto& [name, t] : tensors) {
    MMAUX_CHECK_DATA(out.emplace(name, t).second, "{}: tensor '{}' appears in two shards",
                     file.string(), name);
  }
}

/// The shards of an index file (weight_map: tensor name → shard file), each read once.
TensorMap read_sharded(const fs::path& root, const fs::path& index, bool torch_bin) {
  nlohmann::json j = parse_json_object(read_whole_file(index.string()), index.string());
  auto map = j.find("weight_map");
  MMAUX_CHECK_DATA(map != j.end() && map->is_object(), "{}: no 'weight_map' object",
                   index.string());
  std::map<std::string, std::set<std::string>> by_shard;
  for (auto it = map->begin(); it != map->end(); ++it) {
    MMAUX_CHECK_DATA(it->is_string(), "{}: shard of '{}' is not a string", index.string(),
                     it.key());
    const std::string shard = it->get<std::string>();
    MMAUX_CHECK_DATA(!shard.empty() && shard.find('/') == std::string::npos &&
                         shard.find('\\') == std::string::npos && shard != "." && shard != "..",
                     "{}: shard name '{}' must be a plain file name in the directory",
                     index.string(), shard);
    by_shard[shard].insert(it.key());
  }
  TensorMap out;
  for (const auto& [shard, names] : by_shard) {
    add_weights_file(out, root / shard, torch_bin);
    for (const auto& name : names) {
      MMAUX_CHECK_DATA(out.count(name), "{}: '{}' is mapped to {} but that shard lacks it",
                       index.string(), name, shard);
    }
  }
  return out;
}

}  // namespace

std::string hf_weights_file(const std::string& dir) {
  for (const auto& f : kWeightFormats) {
    for (const char* name : {f.single, f.index}) {
      if (fs::exists(fs::path(dir) / name)) return (fs::path(dir) / name).string();
    }
  }
  return {};
}

bool has_hf_weights(const std::string& dir) { return !hf_weights_file(dir).empty(); }

std::vector<std::string> foreign_weight_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const char* name : kForeignWeights) {
    if (fs::exists(fs::path(dir) / name)) out.push_back(name);
  }
  return out;
}

TensorMap read_hf_weights(const std::string& dir) {
  const fs::path root(dir);
  for (const auto& f : kWeightFormats) {
    if (fs::exists(root / f.single)) {
      TensorMap out;
      add_weights_file(out, root / f.single, f.torch_bin);
      return out;
    }
    if (fs::exists(root / f.index)) return read_sharded(root, root / f.index, f.torch_bin);
  }
  const std::string foreign = fmt::format("{}", fmt::join(foreign_weight_files(dir), ", "));
  MMAUX_THROW(DataError,
              "'{}' holds no weights mmaux reads (model.safetensors, model.safetensors.index.json, "
              "pytorch_model.bin or pytorch_model.bin.index.json){}",
              dir,
              foreign.empty()
                  ? std::string()
                  : fmt::format("; it has {}, which only TensorFlow/Flax read: convert it with "
                                "transformers (from_pretrained(..., from_tf=True or from_flax=True)"
                                ".save_pretrained(dir))",
                                foreign));
}

TensorMap normalize_hf_keys(const TensorMap& tensors, const std::vector<std::string>& prefixes,
                            const std::string& origin) {
  TensorMap out;
  for (const auto& [key, t] : tensors) {
    std::string k = key;
    for (const auto& p : prefixes) {
      if (starts_with(k, p)) {
        k = k.substr(p.size());
        break;
      }
    }
    auto rename_suffix = [&](const std::string& from, const std::string& to) {
      if (k.size() > from.size() && k.compare(k.size() - from.size(), from.size(), from) == 0) {
        k = k.substr(0, k.size() - from.size()) + to;
      }
    };
    rename_suffix("LayerNorm.gamma", "LayerNorm.weight");
    rename_suffix("LayerNorm.beta", "LayerNorm.bias");
    MMAUX_CHECK_DATA(out.emplace(k, t).second,
                     "{}: two checkpoint tensors map to '{}' (one of them is '{}')", origin, k,
                     key);
  }
  return out;
}

TensorMap with_prefix(const TensorMap& tensors, const std::string& prefix) {
  TensorMap out;
  for (const auto& [k, t] : tensors) out.emplace(prefix + k, t);
  return out;
}

}  // namespace mmaux::model
